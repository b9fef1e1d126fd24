// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/gemm_lt.cuh
/// The bf16 precision of linear (linear.cuh): row-major Y[M, N] (fp32, any row stride) =
/// X[M, K] W[N, K]^T through cublasLtMatmul with bf16 A and B, fp32 compute, scale and D, so the
/// product runs on the tensor cores. X is rounded to bf16 (round to nearest even,
/// core/numeric.hpp) into a scratch; a bf16 weight stored as dense rows is read in place, every
/// other stored form (f32, f16, FP8 blocks, MXFP4, transposed, row-selected) is decoded to bf16 a
/// block of output rows at a time. The algorithm the heuristic picks is cached per shape, stride
/// and alignment, so repeated shapes (every layer of every forward) do not query it again.
/// Results differ from the CPU by bf16 rounding of x and W (about 1e-3 relative), which is why
/// Precision::fp32 (cublasSgemm without TF32) stays the default and the one the exactness tests use.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

#include "../../core/numeric.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "decode.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"

namespace templlm::gpu {

/// The arithmetic of a Backend's dense projections (chosen when the Backend is built).
/// fp32: cublasSgemm on exact fp32 values (CUBLAS_DEFAULT_MATH, no TF32): matches the CPU to 1e-5.
/// bf16: x and W rounded to bf16, fp32 accumulate on the tensor cores (cuBLASLt): about 1e-3.
enum class Precision { fp32, bf16 };

inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

namespace detail {

/// bf16 rows are padded to a multiple of 8 elements (16 bytes), the alignment tensor-core
/// kernels load with.
inline constexpr std::int64_t lt_row_pad = 8;
/// Largest block of weight elements decoded to bf16 at once (32 MiB of scratch).
inline constexpr std::int64_t lt_decode_block_elements = std::int64_t(1) << 24;
/// cuBLASLt workspace (split-K and stream-K partials); the size cuBLAS itself uses on Hopper.
inline constexpr std::size_t lt_workspace_bytes = std::size_t(32) << 20;

inline std::int64_t padded_cols(std::int64_t cols) { return ceil_div(cols, lt_row_pad) * lt_row_pad; }

/// dst (rows x cols, ld ld_dst) = x rounded to bf16.
__global__ void round_to_bf16_kernel(std::uint16_t* dst, std::int64_t ld_dst, const float* x, std::int64_t ldx,
                                     std::int64_t rows, std::int64_t cols) {
  const std::int64_t count = rows * cols;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / cols, c = i % cols;
    dst[r * ld_dst + c] = f32_to_bf16(x[r * ldx + c]);
  }
}

/// dst (rows x cols, ld ld_dst) = logical rows [row0, row0 + rows) of w rounded to bf16.
template <WeightPath P>
__global__ void decode_bf16_kernel(std::uint16_t* dst, std::int64_t ld_dst, DeviceWeight w, std::int64_t row0,
                                   std::int64_t rows, std::int64_t cols) {
  const std::int64_t count = rows * cols;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / cols, c = i % cols;
    dst[r * ld_dst + c] = f32_to_bf16(weight_at<P>(w, row0 + r, c));
  }
}

inline unsigned grid_for(std::int64_t count) {
  return static_cast<unsigned>(std::min<std::int64_t>(ceil_div(count, 256), 4096));
}

/// The alignment cuBLASLt may assume for every row of a matrix at p with rows ld_bytes apart
/// (a power of two, at most the 256 bytes the heuristic assumes by default).
inline std::uint32_t lt_alignment(const void* p, std::int64_t ld_bytes) {
  const std::uint64_t bits = std::uint64_t(reinterpret_cast<std::uintptr_t>(p)) | std::uint64_t(ld_bytes) | 256u;
  return static_cast<std::uint32_t>(bits & (~bits + 1));
}

/// What the heuristic's choice depends on: sizes, strides and the operands' alignment.
struct LtShape {
  std::int64_t m = 0, n = 0, k = 0, ldx = 0, ldw = 0, ldy = 0;
  std::uint32_t align_x = 0, align_w = 0, align_y = 0;
  friend bool operator==(const LtShape&, const LtShape&) = default;
};

struct LtShapeHash {
  std::size_t operator()(const LtShape& s) const {
    std::size_t h = 0;
    for (std::uint64_t v : {std::uint64_t(s.m), std::uint64_t(s.n), std::uint64_t(s.k), std::uint64_t(s.ldx),
                            std::uint64_t(s.ldw), std::uint64_t(s.ldy),
                            std::uint64_t(s.align_x) << 32 | s.align_w, std::uint64_t(s.align_y)})
      h = (h ^ v) * 0x100000001b3ull;
    return h;
  }
};

}  // namespace detail

/// cuBLASLt state for bf16 projections: the handle, its workspace, the bf16 scratch for x and
/// decoded weight blocks, and one plan (layouts and algorithm) per shape. Created on first use,
/// so an fp32 Backend never initialises cuBLASLt. Everything only grows.
class LtWorkspace {
 public:
  LtWorkspace() = default;
  LtWorkspace(const LtWorkspace&) = delete;
  LtWorkspace& operator=(const LtWorkspace&) = delete;
  ~LtWorkspace() {
    for (auto& entry : plans_) destroy(entry.second);
    if (op_) cublasLtMatmulDescDestroy(op_);
    if (handle_) cublasLtDestroy(handle_);
  }

  /// Row-major y[m, n] (ld ldy) = x[m, k] (ld ldx) w[n, k]^T (ld ldw), x and w bf16 bits.
  void matmul_nt(cudaStream_t stream, float* y, std::int64_t ldy, const std::uint16_t* x, std::int64_t ldx,
                 const std::uint16_t* w, std::int64_t ldw, std::int64_t m, std::int64_t n, std::int64_t k) {
    const detail::LtShape shape{m,
                                n,
                                k,
                                ldx,
                                ldw,
                                ldy,
                                detail::lt_alignment(x, ldx * 2),
                                detail::lt_alignment(w, ldw * 2),
                                detail::lt_alignment(y, ldy * 4)};
    const Plan& p = plan(shape);
    const float one = 1.0f, zero = 0.0f;
    // Column-major, as cuBLASLt sees it: Y^T (n x m) = (W stored k x n)^T X^T (k x m). C is D
    // (beta = 0, never read).
    cublas_check(cublasLtMatmul(handle_, op_, &one, w, p.w, x, p.x, &zero, y, p.y, y, p.y, &p.algo,
                                workspace_.data(), workspace_.size(), stream),
                 "cublasLtMatmul");
  }

  /// bf16 scratch of at least n elements, for x and for decoded weight blocks.
  std::uint16_t* x_scratch(std::size_t n) { return grow(x_, n); }
  std::uint16_t* w_scratch(std::size_t n) { return grow(w_, n); }
  /// How many shapes the heuristic was asked about (each once).
  std::size_t plans() const { return plans_.size(); }

 private:
  struct Plan {
    cublasLtMatrixLayout_t x = nullptr, w = nullptr, y = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };

  static std::uint16_t* grow(DeviceBuffer<std::uint16_t>& b, std::size_t n) {
    b.resize(n);
    return b.data();
  }

  void init() {
    if (handle_) return;
    cublas_check(cublasLtCreate(&handle_), "cublasLtCreate");
    cublas_check(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
    cublas_check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)),
                 "cublasLtMatmulDescSetAttribute (TRANSA)");
    cublas_check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof(keep)),
                 "cublasLtMatmulDescSetAttribute (TRANSB)");
    workspace_.resize(detail::lt_workspace_bytes);
  }

  static void destroy(Plan& p) {
    for (auto* layout : {p.x, p.w, p.y})
      if (layout) cublasLtMatrixLayoutDestroy(layout);
  }

  const Plan& plan(const detail::LtShape& s) {
    init();
    if (auto it = plans_.find(s); it != plans_.end()) return it->second;
    Plan p;
    try {
      p.algo = query(s, p);
    } catch (...) {
      destroy(p);
      throw;
    }
    return plans_.emplace(s, p).first->second;
  }

  /// Creates p's layouts and asks the heuristic for its best algorithm.
  cublasLtMatmulAlgo_t query(const detail::LtShape& s, Plan& p) {
    cublas_check(cublasLtMatrixLayoutCreate(&p.w, CUDA_R_16BF, std::uint64_t(s.k), std::uint64_t(s.n), s.ldw),
                 "cublasLtMatrixLayoutCreate (W)");
    cublas_check(cublasLtMatrixLayoutCreate(&p.x, CUDA_R_16BF, std::uint64_t(s.k), std::uint64_t(s.m), s.ldx),
                 "cublasLtMatrixLayoutCreate (x)");
    cublas_check(cublasLtMatrixLayoutCreate(&p.y, CUDA_R_32F, std::uint64_t(s.n), std::uint64_t(s.m), s.ldy),
                 "cublasLtMatrixLayoutCreate (y)");
    cublasLtMatmulPreference_t pref = nullptr;
    cublas_check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    const std::uint64_t workspace = workspace_.size();
    // The operands' real alignment: the default (256 bytes) would admit kernels that fault on
    // row-offset weights and column ranges of y.
    const std::pair<cublasLtMatmulPreferenceAttributes_t, std::uint32_t> alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, s.align_w},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, s.align_x},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, s.align_y},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, s.align_y}};
    cublasStatus_t status = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                                 &workspace, sizeof(workspace));
    for (const auto& [attr, bytes] : alignments)
      if (status == CUBLAS_STATUS_SUCCESS)
        status = cublasLtMatmulPreferenceSetAttribute(pref, attr, &bytes, sizeof(bytes));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulAlgoGetHeuristic(handle_, op_, p.w, p.x, p.y, p.y, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    cublas_check(status, "cublasLtMatmulAlgoGetHeuristic");
    if (found == 0 || result.state != CUBLAS_STATUS_SUCCESS)
      throw Unsupported("templlm: linear (bf16): cuBLASLt has no algorithm for x[" + std::to_string(s.m) + ", " +
                        std::to_string(s.k) + "] W[" + std::to_string(s.n) + ", " + std::to_string(s.k) +
                        "]^T with these strides and alignments");
    return result.algo;
  }

  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  DeviceBuffer<std::byte> workspace_;
  DeviceBuffer<std::uint16_t> x_, w_;
  std::unordered_map<detail::LtShape, Plan, detail::LtShapeHash> plans_;
};

/// y = x W^T in bf16 precision (no bias: linear adds it). Requires matching shapes and k > 0.
inline void linear_bf16(LtWorkspace& lt, cudaStream_t stream, MatrixView<float, Device> y,
                        MatrixView<const float, Device> x, const WeightView<Device>& w) {
  const std::int64_t m = x.rows, n = w.shape[0], k = w.shape[1];
  detail::require_decodable(w, "a linear layer");
  const std::int64_t ldx = detail::padded_cols(k);
  std::uint16_t* xb = lt.x_scratch(static_cast<std::size_t>(m * ldx));
  detail::round_to_bf16_kernel<<<detail::grid_for(m * k), 256, 0, stream>>>(xb, ldx, x.data, x.stride, m, k);
  launch_check("round_to_bf16_kernel");
  if (weight_path(w) == WeightPath::bf16 && w.row_step == 1) {  // dense bf16 rows: in place
    lt.matmul_nt(stream, y.data, y.stride, xb, ldx,
                 reinterpret_cast<const std::uint16_t*>(w.data) + w.row_base * w.stride(), w.stride(), m, n, k);
    return;
  }
  const std::int64_t ldw = ldx;
  const std::int64_t block = std::clamp<std::int64_t>(detail::lt_decode_block_elements / ldw, 1, n);
  std::uint16_t* wb = lt.w_scratch(static_cast<std::size_t>(block * ldw));
  for (std::int64_t n0 = 0; n0 < n; n0 += block) {
    const std::int64_t nb = std::min(block, n - n0);
    detail::with_weight_path(w, "a linear layer", [&]<WeightPath P>() {
      detail::decode_bf16_kernel<P><<<detail::grid_for(nb * k), 256, 0, stream>>>(wb, ldw, device_weight(w), n0,
                                                                                   nb, k);
    });
    launch_check("decode_bf16_kernel");
    lt.matmul_nt(stream, y.data + n0, y.stride, xb, ldx, wb, ldw, m, nb, k);
  }
}

}  // namespace templlm::gpu
