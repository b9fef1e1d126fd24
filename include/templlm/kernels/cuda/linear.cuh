// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/linear.cuh
/// y = x W^T (+ b) with W a logical [out, in] weight in its stored form, the device twin of
/// kernels/cpu/linear.hpp. Plain fp32 rows go straight to cublasSgemm; every other storage (bf16,
/// f16, FP8 blocks, MXFP4, transposed, row-selected) is decoded exactly to an fp32 scratch, a
/// block of output rows at a time (decode.cuh), and multiplied the same way.
/// The handle uses CUBLAS_DEFAULT_MATH with fp32 compute: never TF32, so fp32 activations are
/// not rounded. The bias is added after the product, as the CPU does.
/// Up to gemv_max_rows (8) rows of x, every layout gemv_format covers (all but transposed
/// storage, FP8 blocks under 16 columns and MXFP4 rows off 16-byte boundaries) goes to the GEMV
/// of gemv.cuh instead, which reads each stored weight byte once (2 bytes per bf16 weight, not 10).
/// In Precision::bf16 what the GEMV does not take goes to cuBLASLt with bf16 operands instead
/// (gemm_lt.cuh); the GEMV stays as it is (fp32 activations, the stored weight read once).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "../../core/tensor.hpp"
#include "check.cuh"
#include "decode.cuh"
#include "device_buffer.cuh"
#include "elementwise.cuh"
#include "gemm_lt.cuh"
#include "gemv.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

/// Largest block of weight elements decoded to fp32 at once (64 MiB of scratch).
inline constexpr std::int64_t decode_block_elements = std::int64_t(1) << 24;

/// dst (rows x cols, row-major) = logical rows [row0, row0 + rows) of w in fp32.
template <WeightPath P>
__global__ void decode_kernel(float* dst, DeviceWeight w, std::int64_t row0, std::int64_t rows,
                              std::int64_t cols) {
  const std::int64_t count = rows * cols;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dst[i] = weight_at<P>(w, row0 + i / cols, i % cols);
}

inline int blas_int(std::int64_t v, const char* what) {
  if (v > std::numeric_limits<int>::max())
    throw Unsupported(std::string("templlm: linear: ") + what + " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}

/// Row-major Y[M, N] (ld ldy) = X[M, K] (ld ldx) W[N, K]^T (ld ldw): column-major Y^T = W^T' X^T'.
inline void sgemm_nt(cublasHandle_t blas, float* y, std::int64_t ldy, const float* x,
                     std::int64_t ldx, const float* w, std::int64_t ldw, std::int64_t m, std::int64_t n,
                     std::int64_t k) {
  const float one = 1.0f, zero = 0.0f;
  cublas_check(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, blas_int(n, "out features"),
                           blas_int(m, "rows"), blas_int(k, "in features"), &one, w,
                           blas_int(ldw, "W stride"), x, blas_int(ldx, "x stride"), &zero, y,
                           blas_int(ldy, "y stride")),
               "cublasSgemm");
}

}  // namespace detail

/// dst = logical rows [row0, row0 + rows) of w as dense fp32 (device memory).
inline void decode_rows(cudaStream_t stream, float* dst, const WeightView<Device>& w, std::int64_t row0,
                        std::int64_t rows) {
  const std::int64_t cols = w.cols(), count = rows * cols;
  if (count == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(detail::ceil_div(count, 256), 4096));
  detail::with_weight_path(w, "a linear layer", [&]<WeightPath P>() {
    detail::decode_kernel<P><<<blocks, 256, 0, stream>>>(dst, device_weight(w), row0, rows, cols);
  });
  launch_check("decode_kernel");
}

namespace detail {

/// y = x W^T in fp32 by cublasSgemm: f32 rows in place, every other storage decoded to fp32 in
/// `scratch` a block of output rows at a time. Requires matching shapes and k > 0.
inline void linear_fp32(cublasHandle_t blas, cudaStream_t stream, DeviceBuffer<float>& scratch,
                        MatrixView<float, Device> y, MatrixView<const float, Device> x, const WeightView<Device>& w) {
  const std::int64_t n = w.shape[0], k = w.shape[1];
  if (weight_path(w) == WeightPath::f32 && w.row_step == 1) {  // usable in place
    sgemm_nt(blas, y.data, y.stride, x.data, x.stride,
             reinterpret_cast<const float*>(w.data) + w.row_base * w.stride(), w.stride(), x.rows, n, k);
    return;
  }
  require_decodable(w, "a linear layer");
  const std::int64_t block = std::clamp<std::int64_t>(decode_block_elements / k, 1, n);
  scratch.resize(static_cast<std::size_t>(block * k));
  for (std::int64_t n0 = 0; n0 < n; n0 += block) {
    const std::int64_t nb = std::min(block, n - n0);
    decode_rows(stream, scratch.data(), w, n0, nb);
    sgemm_nt(blas, y.data + n0, y.stride, x.data, x.stride, scratch.data(), k, x.rows, nb, k);
  }
}

}  // namespace detail

/// What linear multiplies with: cuBLAS (fp32) and its decode scratch, and for Precision::bf16
/// the cuBLASLt workspace. Held by the Backend; scratch only grows.
struct LinearContext {
  cublasHandle_t blas = nullptr;
  DeviceBuffer<float>* scratch = nullptr;
  Precision precision = Precision::fp32;
  LtWorkspace* lt = nullptr;  // needed for Precision::bf16
  GemvWorkspace* gemv = nullptr;  // split-K partials for narrow outputs; null: no split
};

/// y = x W^T (+ bias): the GEMV for up to 8 rows, else cuBLAS in fp32 or cuBLASLt in bf16.
inline void linear(const LinearContext& ctx, cudaStream_t stream, MatrixView<float, Device> y,
                   MatrixView<const float, Device> x, const WeightView<Device>& w,
                   const WeightView<Device>& bias = {}) {
  const std::int64_t n = w.shape[0], k = w.shape[1];
  check(w.rank == 2 && x.cols == k && y.cols == n && y.rows == x.rows,
        "templlm: linear: shapes of x, y and W disagree");
  if (x.rows == 0 || n == 0) return;
  if (gemv_applies(x.rows, w)) {  // decode-sized x: read the stored weights once, bias included
    gemv(stream, y, x, w, bias, ctx.gemv);
    return;
  }
  if (k == 0) {
    cuda_check(cudaMemset2DAsync(y.data, y.stride * sizeof(float), 0, n * sizeof(float), y.rows, stream),
               "cudaMemset2DAsync");
  } else if (ctx.precision == Precision::bf16) {
    check(ctx.lt != nullptr, "templlm: linear: bf16 precision needs a cuBLASLt workspace");
    linear_bf16(*ctx.lt, stream, y, x, w);
  } else {
    detail::linear_fp32(ctx.blas, stream, *ctx.scratch, y, x, w);
  }
  if (!bias.empty()) bias_add(stream, y, bias);
}

/// y = x W^T (+ bias) in fp32. `scratch` holds decoded weight blocks; it only grows.
inline void linear(cublasHandle_t blas, cudaStream_t stream, DeviceBuffer<float>& scratch,
                   MatrixView<float, Device> y, MatrixView<const float, Device> x,
                   const WeightView<Device>& w, const WeightView<Device>& bias = {}) {
  linear({.blas = blas, .scratch = &scratch}, stream, y, x, w, bias);
}

}  // namespace templlm::gpu
