// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: cuBLAS as a naive host GEMM (column-major, fp32, k in order).
#pragma once
#include "cuda_runtime.h"
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0 };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cublasMath_t { CUBLAS_DEFAULT_MATH };
struct cublasContext {};
using cublasHandle_t = cublasContext*;
inline const char* cublasGetStatusName(cublasStatus_t) { return "CUBLAS_EMULATED"; }
inline const char* cublasGetStatusString(cublasStatus_t) { return "emulated"; }
inline cublasStatus_t cublasCreate(cublasHandle_t* h) { *h = new cublasContext; return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasDestroy(cublasHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
/// Column-major C = alpha op(A) op(B) + beta C.
inline cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float* alpha, const float* a, int lda, const float* b, int ldb,
                                  const float* beta, float* c, int ldc) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float s = 0;
      for (int p = 0; p < k; ++p) {
        const float av = ta == CUBLAS_OP_N ? a[i + p * lda] : a[p + i * lda];
        const float bv = tb == CUBLAS_OP_N ? b[p + j * ldb] : b[j + p * ldb];
        s += av * bv;
      }
      c[i + j * ldc] = *alpha * s + (*beta == 0 ? 0.0f : *beta * c[i + j * ldc]);
    }
  return CUBLAS_STATUS_SUCCESS;
}
