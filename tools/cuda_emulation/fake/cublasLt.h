// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: the subset of cuBLASLt that gemm_lt.cuh uses, as a naive host GEMM.
// D = alpha op(A) op(B) + beta C on column-major layouts (rows, cols, ld as the layout says),
// A and B fp32 or bf16 (read as their exact fp32 values), fp32 accumulate with k in order, C and
// D fp32. As the real library: attribute sizes are checked, ld must cover the rows, and the
// heuristic returns one algorithm that records the alignments it was promised, which cublasLtMatmul
// then requires of its pointers and leading dimensions (a real kernel would fault or refuse).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cublas_v2.h"
#include "cuda_runtime.h"

// library_types.h / cublas_api.h
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16BF = 14 };
using cudaDataType = cudaDataType_t;
enum cublasComputeType_t { CUBLAS_COMPUTE_32F = 68 };

namespace emu_lt {
// The real codes of cublasStatus_t that the fake cublas_v2.h does not name.
inline constexpr cublasStatus_t invalid_value = static_cast<cublasStatus_t>(7);
inline constexpr cublasStatus_t not_supported = static_cast<cublasStatus_t>(15);
}  // namespace emu_lt

struct cublasLtContext {};
using cublasLtHandle_t = cublasLtContext*;

struct cublasLtMatrixLayoutOpaque_t {
  cudaDataType type;
  std::uint64_t rows, cols;
  std::int64_t ld;
};
using cublasLtMatrixLayout_t = cublasLtMatrixLayoutOpaque_t*;

enum cublasLtMatmulDescAttributes_t { CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4 };
struct cublasLtMatmulDescOpaque_t {
  cublasComputeType_t compute;
  cudaDataType scale;
  std::int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
};
using cublasLtMatmulDesc_t = cublasLtMatmulDescOpaque_t*;

enum cublasLtMatmulPreferenceAttributes_t {
  CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
};
struct cublasLtMatmulPreferenceOpaque_t {
  std::uint64_t workspace = 0;
  std::uint32_t align[4] = {256, 256, 256, 256};  // A, B, C, D: the library's default
};
using cublasLtMatmulPreference_t = cublasLtMatmulPreferenceOpaque_t*;

struct cublasLtMatmulAlgo_t {
  std::uint64_t data[8];  // here: data[0..3] the alignments of A, B, C, D the algorithm needs
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  std::size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};

inline cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) { *h = new cublasLtContext; return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }

inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType type, std::uint64_t rows,
                                                 std::uint64_t cols, std::int64_t ld) {
  *l = new cublasLtMatrixLayoutOpaque_t{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) { delete l; return CUBLAS_STATUS_SUCCESS; }

inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute,
                                               cudaDataType_t scale) {
  *d = new cublasLtMatmulDescOpaque_t{compute, scale};
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) { delete d; return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                                                     const void* buf, std::size_t size) {
  if (!buf || size != sizeof(std::int32_t)) return emu_lt::invalid_value;
  std::memcpy(attr == CUBLASLT_MATMUL_DESC_TRANSA ? &d->transa : &d->transb, buf, size);
  return CUBLAS_STATUS_SUCCESS;
}

inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  *p = new cublasLtMatmulPreferenceOpaque_t;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                           cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                                                           std::size_t size) {
  if (!buf) return emu_lt::invalid_value;
  if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
    if (size != sizeof(std::uint64_t)) return emu_lt::invalid_value;
    std::memcpy(&p->workspace, buf, size);
    return CUBLAS_STATUS_SUCCESS;
  }
  if (size != sizeof(std::uint32_t)) return emu_lt::invalid_value;
  std::memcpy(&p->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, size);
  return CUBLAS_STATUS_SUCCESS;
}

namespace emu_lt {
inline bool supported(const cublasLtMatmulDescOpaque_t& op, const cublasLtMatrixLayoutOpaque_t& a,
                      const cublasLtMatrixLayoutOpaque_t& b, const cublasLtMatrixLayoutOpaque_t& c,
                      const cublasLtMatrixLayoutOpaque_t& d) {
  return op.compute == CUBLAS_COMPUTE_32F && op.scale == CUDA_R_32F && a.type == b.type &&
         (a.type == CUDA_R_32F || a.type == CUDA_R_16BF) && c.type == CUDA_R_32F && d.type == CUDA_R_32F;
}
inline float element(const void* base, cudaDataType type, std::int64_t i) {
  if (type == CUDA_R_16BF) {
    const std::uint32_t bits = std::uint32_t(static_cast<const std::uint16_t*>(base)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  return static_cast<const float*>(base)[i];
}
inline std::uint64_t alignment(const void* p, const cublasLtMatrixLayoutOpaque_t& l) {
  const std::uint64_t bits = std::uint64_t(reinterpret_cast<std::uintptr_t>(p)) |
                             std::uint64_t(l.ld) * (l.type == CUDA_R_16BF ? 2 : 4) | 256u;
  return bits & (~bits + 1);
}
}  // namespace emu_lt

inline cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t op,
                                                     cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                     cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                                     cublasLtMatmulPreference_t pref, int requested,
                                                     cublasLtMatmulHeuristicResult_t* results, int* found) {
  if (requested <= 0) return emu_lt::invalid_value;
  if (!emu_lt::supported(*op, *a, *b, *c, *d)) return emu_lt::not_supported;
  results[0] = {};
  for (int i = 0; i < 4; ++i) results[0].algo.data[i] = pref->align[i];
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

/// D = alpha op(A) op(B) + beta C, column-major; m x n x k read from D and op(A).
inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t op, const void* alpha, const void* a,
                                     cublasLtMatrixLayout_t ad, const void* b, cublasLtMatrixLayout_t bd,
                                     const void* beta, const void* c, cublasLtMatrixLayout_t cd, void* d,
                                     cublasLtMatrixLayout_t dd, const cublasLtMatmulAlgo_t* algo, void*, std::size_t,
                                     cudaStream_t) {
  if (!algo || !emu_lt::supported(*op, *ad, *bd, *cd, *dd)) return emu_lt::not_supported;
  const bool ta = op->transa == CUBLAS_OP_T, tb = op->transb == CUBLAS_OP_T;
  const std::uint64_t m = dd->rows, n = dd->cols, k = ta ? ad->rows : ad->cols;
  if ((ta ? ad->cols : ad->rows) != m || (tb ? bd->rows : bd->cols) != n || (tb ? bd->cols : bd->rows) != k ||
      cd->rows != m || cd->cols != n)
    return emu_lt::invalid_value;
  for (const auto* l : {ad, bd, cd, dd})
    if (l->ld < std::int64_t(l->rows)) return emu_lt::invalid_value;
  const void* operands[4] = {a, b, c, d};
  const cublasLtMatrixLayoutOpaque_t* layouts[4] = {ad, bd, cd, dd};
  for (int i = 0; i < 4; ++i)  // the algorithm was chosen for at least this alignment
    if (emu_lt::alignment(operands[i], *layouts[i]) < algo->data[i]) return emu_lt::invalid_value;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (std::uint64_t j = 0; j < n; ++j)
    for (std::uint64_t i = 0; i < m; ++i) {
      float s = 0;
      for (std::uint64_t p = 0; p < k; ++p) {
        const float av = emu_lt::element(a, ad->type, std::int64_t(ta ? p + i * ad->ld : i + p * ad->ld));
        const float bv = emu_lt::element(b, bd->type, std::int64_t(tb ? j + p * bd->ld : p + j * bd->ld));
        s += av * bv;
      }
      const float cv = be == 0 ? 0.0f : be * static_cast<const float*>(c)[i + j * cd->ld];
      static_cast<float*>(d)[i + j * dd->ld] = al * s + cv;
    }
  return CUBLAS_STATUS_SUCCESS;
}
