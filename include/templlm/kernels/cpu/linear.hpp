// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/linear.hpp
/// y = x W^T (+ b) with W stored [out, in] in its checkpoint dtype. Output features are split
/// across threads in blocks. Up to gemv_max_rows rows of x (decode) against an untransposed W go
/// through gemv.hpp, which reads each weight once (bf16 / f32 in place, other forms a row at a
/// time); otherwise each block is decoded to fp32 and multiplied with Eigen. Every output element is computed by one thread in one fixed order, so results do
/// not depend on the thread count.
#pragma once
// GCC 12 reports -Wuninitialized inside its own AVX-512 intrinsics when Eigen inlines them
// (`__m512 __Y = __Y;`, GCC bug 105593, fixed in GCC 13): silenced for these headers only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <algorithm>
#include <vector>

#include "../../core/aligned_buffer.hpp"
#include "../../core/thread_pool.hpp"
#include "decode.hpp"
#include "gemv.hpp"

namespace templlm::cpu {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;

inline Eigen::Map<const RowMatrix, 0, Stride> eigen(MatrixView<const float> m) {
  return {m.data, m.rows, m.cols, Stride(m.stride)};
}
inline Eigen::Map<RowMatrix, 0, Stride> eigen(MatrixView<float> m) {
  return {m.data, m.rows, m.cols, Stride(m.stride)};
}

inline void linear(ThreadPool& pool, MatrixView<float> y, MatrixView<const float> x,
                   const WeightView<Host>& w, const WeightView<Host>& bias = {}) {
  const std::int64_t n = w.shape[0], k = w.shape[1];
  check(w.rank == 2 && x.cols == k && y.cols == n && y.rows == x.rows,
        "templlm: linear: shapes of x, y and W disagree");
  constexpr std::int64_t block = 64;
  const auto X = eigen(x);
  thread_local AlignedBuffer<float> bias_row;  // decoded once per call, shared read-only
  if (!bias.empty()) {
    check(bias.numel() == n, "templlm: linear: bias length differs from the output width");
    bias_row.resize(static_cast<std::size_t>(n));
    decode_vector(bias_row.data(), bias);
  }
  const float* b = bias.empty() ? nullptr : bias_row.data();
  const bool in_place = x.rows <= gemv_max_rows && gemv_reads(w);
  pool.parallel_for(n, grain_for_work(k * x.rows, block), [&](std::int64_t begin, std::int64_t end) {
    if (in_place) {
      gemv(y.data, y.stride, x.data, x.stride, x.rows, w, begin, end);
      if (b)
        for (std::int64_t r = 0; r < y.rows; ++r)
          for (std::int64_t c = begin; c < end; ++c) y.row(r)[c] += b[c];
      return;
    }
    thread_local AlignedBuffer<float> scratch;  // grows once per thread, then reused
    for (std::int64_t n0 = begin; n0 < end; n0 += block) {
      const std::int64_t nb = std::min(block, end - n0);
      const float* wp;
      if (w.dtype == DType::f32 && w.quant == Quant::none && !w.transposed && w.row_step == 1 &&
          w.stride() == k &&
          reinterpret_cast<std::uintptr_t>(w.data) % alignof(float) == 0) {  // usable in place
        wp = reinterpret_cast<const float*>(w.data) + (w.row_base + n0) * k;
      } else {
        scratch.resize(static_cast<std::size_t>(nb * k));
        decode_rows(scratch.data(), w, n0, nb);
        wp = scratch.data();
      }
      Eigen::Map<const RowMatrix> wb(wp, nb, k);
      auto yb = eigen(y.col_range(n0, nb));
      yb.noalias() = X * wb.transpose();
      if (b)
        for (std::int64_t r = 0; r < y.rows; ++r)
          for (std::int64_t c = 0; c < nb; ++c) y.row(r)[n0 + c] += b[n0 + c];
    }
  });
}

}  // namespace templlm::cpu
