// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/gemv.hpp
/// y = x W^T for a few rows of x (decode: one row per sequence) with W read once in its stored
/// form and widened to fp32 in registers, instead of decoded into an fp32 scratch block and read
/// again by Eigen (a second pass over twice the bytes; 70% of a bf16 decode step). FP8 blocks,
/// MXFP4 and f16 are decoded one row at a time into an L1-sized buffer and dotted from there.
///
/// Written with GNU vectors of 8 floats, which the compiler maps to the ISA it builds for
/// (AVX2+FMA or AVX-512 with the default native build; SSE2 in a portable one) with no
/// intrinsics: the same source, and the same summation order, in every translation unit,
/// nvcc's host passes included. Each output is one dot product in a fixed order (lane sums over
/// the columns, then the lanes pairwise, then the tail), so results do not depend on the thread
/// count or on how the outputs are split.
///
/// Thread-safe: pure functions of their arguments.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../../core/aligned_buffer.hpp"
#include "../../core/numeric.hpp"
#include "../../core/tensor.hpp"
#include "decode.hpp"

namespace templlm::cpu {

/// The most rows of x the GEMV path serves; more go through the decode-and-GEMM path, where a
/// decoded block is reused by enough rows to pay for itself.
inline constexpr std::int64_t gemv_max_rows = 8;

/// Whether gemv() serves W: rows that are not transposed (any row step). bf16 and f32 are read in
/// place; other forms (FP8 blocks, MXFP4, f16) one row at a time into an L1-sized buffer, so
/// their bytes are still read once and no decoded block goes through the caches.
inline bool gemv_reads(const WeightView<Host>& w) { return !w.transposed; }

namespace detail {

/// 8 fp32 lanes as a GNU vector (GCC, Clang and nvcc's host pass accept it): with plain arrays
/// GCC reaches half the memory bandwidth (12 GB/s against 23 on the development machine).
using f32x8 = float __attribute__((vector_size(32)));
inline constexpr int lanes = 8;

/// 8 stored elements at `p` as fp32 (memcpy: bf16 tensors may sit at odd addresses).
template <DType D>
inline f32x8 load8(const std::byte* p) {
  f32x8 out;
  if constexpr (D == DType::bf16) {
    std::uint16_t v[lanes];
    std::memcpy(v, p, sizeof v);
    float f[lanes];
    for (int l = 0; l < lanes; ++l) f[l] = bits_to_f32(std::uint32_t(v[l]) << 16);
    std::memcpy(&out, f, sizeof out);
  } else {
    std::memcpy(&out, p, sizeof out);
  }
  return out;
}
inline f32x8 load8(const float* p) {
  f32x8 out;
  std::memcpy(&out, p, sizeof out);
  return out;
}

template <DType D>
inline float widen1(const std::byte* p) {
  if constexpr (D == DType::bf16) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return bf16_to_f32(v);
  } else {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
}

/// f(integral_constant<int, 0>), ..., f(integral_constant<int, N - 1>).
template <int N, class F>
inline void unrolled(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }(
      std::make_integer_sequence<int, N>{});
}

/// Sums 8 lanes pairwise: ((0+4)+(2+6))+((1+5)+(3+7)).
inline float reduce8(f32x8 a) {
  return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/// y[r * ldy] = dot(w, x[r]) for R rows of x: each 8-element chunk of the weight row is widened
/// once and used by every row; U chunks per iteration keep 4+ independent sums in flight.
template <DType D, int R>
inline void dot_row(float* y, std::int64_t ldy, const float* x, std::int64_t ldx, const std::byte* w,
                    std::int64_t k) {
  constexpr int U = R >= 2 ? 2 : 4;  // 4+ chains of FMAs in flight (their latency is 4 cycles)
  constexpr std::int64_t esize = D == DType::bf16 ? 2 : 4;
  constexpr std::int64_t step = std::int64_t(U) * lanes;
  f32x8 acc[U][R] = {};
  std::int64_t c = 0;
  // Unrolled (compile-time indices) so the sums stay in registers: as rolled loops GCC keeps
  // them in memory, 3x slower. No `#pragma GCC unroll`: nvcc's host pass rejects it.
  for (; c + step <= k; c += step)
    unrolled<U>([&](auto u) {
      const f32x8 wv = load8<D>(w + (c + u * lanes) * esize);
      unrolled<R>([&](auto r) { acc[u][r] += wv * load8(x + r * ldx + c + u * lanes); });
    });
  for (; c + lanes <= k; c += lanes) {  // whole chunks left over from the unrolled loop
    const f32x8 wv = load8<D>(w + c * esize);
    unrolled<R>([&](auto r) { acc[0][r] += wv * load8(x + r * ldx + c); });
  }
  for (int r = 0; r < R; ++r) {
    f32x8 total = acc[0][r];
    for (int u = 1; u < U; ++u) total += acc[u][r];
    float sum = reduce8(total);
    for (std::int64_t t = c; t < k; ++t) sum += widen1<D>(w + t * esize) * x[r * ldx + t];
    y[r * ldy] = sum;
  }
}

/// Rows of x in groups of up to 4 (their sums and one widened chunk fit the 16 AVX2 registers),
/// all groups against one weight row before the next: W is read from memory once.
template <DType D>
inline void dot_rows(float* y, std::int64_t ldy, const float* x, std::int64_t ldx, std::int64_t rows,
                     const std::byte* wr, std::int64_t k) {
  for (std::int64_t r = 0; r < rows;) {
    float* yr = y + r * ldy;
    const float* xr = x + r * ldx;
    switch (std::min<std::int64_t>(rows - r, 4)) {
      case 4: dot_row<D, 4>(yr, ldy, xr, ldx, wr, k); r += 4; break;
      case 3: dot_row<D, 3>(yr, ldy, xr, ldx, wr, k); r += 3; break;
      case 2: dot_row<D, 2>(yr, ldy, xr, ldx, wr, k); r += 2; break;
      default: dot_row<D, 1>(yr, ldy, xr, ldx, wr, k); r += 1; break;
    }
  }
}

template <DType D>
inline void gemv_typed(float* y, std::int64_t ldy, const float* x, std::int64_t ldx, std::int64_t rows,
                       const WeightView<Host>& w, std::int64_t n0, std::int64_t n1) {
  constexpr std::int64_t esize = D == DType::bf16 ? 2 : 4;
  const std::int64_t k = w.cols();
  for (std::int64_t n = n0; n < n1; ++n)
    dot_rows<D>(y + n, ldy, x, ldx, rows, w.data + (w.row_base + n * w.row_step) * w.stride() * esize, k);
}

/// Stored forms without an in-place dot: each row decoded (decode.hpp) into a per-thread buffer
/// of one row, then dotted from L1.
inline void gemv_decoded(float* y, std::int64_t ldy, const float* x, std::int64_t ldx, std::int64_t rows,
                         const WeightView<Host>& w, std::int64_t n0, std::int64_t n1) {
  const std::int64_t k = w.cols();
  thread_local AlignedBuffer<float> row;  // grows once per thread, then reused
  row.resize(static_cast<std::size_t>(k));
  const auto* bytes = reinterpret_cast<const std::byte*>(row.data());
  for (std::int64_t n = n0; n < n1; ++n) {
    decode_rows(row.data(), w, n, 1);
    dot_rows<DType::f32>(y + n, ldy, x, ldx, rows, bytes, k);
  }
}

}  // namespace detail

/// Outputs [n0, n1) of y = x W^T: y[r * ldy + n] for r < rows. W must satisfy gemv_reads(); x has
/// W.cols() columns (row stride ldx).
inline void gemv(float* y, std::int64_t ldy, const float* x, std::int64_t ldx, std::int64_t rows,
                 const WeightView<Host>& w, std::int64_t n0, std::int64_t n1) {
  if (w.quant == Quant::none && w.dtype == DType::bf16) detail::gemv_typed<DType::bf16>(y, ldy, x, ldx, rows, w, n0, n1);
  else if (w.quant == Quant::none && w.dtype == DType::f32) detail::gemv_typed<DType::f32>(y, ldy, x, ldx, rows, w, n0, n1);
  else detail::gemv_decoded(y, ldy, x, ldx, rows, w, n0, n1);
}

}  // namespace templlm::cpu
