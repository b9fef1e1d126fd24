// SPDX-License-Identifier: Apache-2.0
/// \file core/tensor.hpp
/// Non-owning views. Activations are fp32 row-major matrices (MatrixView); weights keep the
/// checkpoint's storage format (WeightView: dtype + shape + bytes, plus block scales for the
/// quantised formats). The memory space is part of the type so host and device pointers do not mix.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "dtype.hpp"
#include "error.hpp"

namespace templlm {

struct Host {};
struct Device {};

/// A row-major matrix of T: rows x cols, consecutive rows `stride` elements apart.
template <class T, class Space = Host>
struct MatrixView {
  T* data = nullptr;
  std::int64_t rows = 0, cols = 0, stride = 0;

  MatrixView() = default;
  MatrixView(T* d, std::int64_t r, std::int64_t c) : data(d), rows(r), cols(c), stride(c) {}
  MatrixView(T* d, std::int64_t r, std::int64_t c, std::int64_t s)
      : data(d), rows(r), cols(c), stride(s) {}
  /// A mutable view converts to a const one. A template constrained to non-const T: a plain
  /// member would, in MatrixView<const T>, convert to its own type, which nvcc warns about (#554).
  template <class U = T>
    requires(!std::is_const_v<U>)
  operator MatrixView<const U, Space>() const {
    return {data, rows, cols, stride};
  }

  T* row(std::int64_t i) const { return data + i * stride; }
  /// Rows [first, first + count).
  MatrixView row_range(std::int64_t first, std::int64_t count) const {
    return {data + first * stride, count, cols, stride};
  }
  /// Columns [first, first + count) of every row.
  MatrixView col_range(std::int64_t first, std::int64_t count) const {
    return {data + first, rows, count, stride};
  }
  bool contiguous() const { return stride == cols; }
  /// The same contiguous memory seen as rows * (cols / n) rows of n (e.g. [T, heads*D] -> [T*heads, D]).
  MatrixView split_rows(std::int64_t n) const {
    check(contiguous() && cols % n == 0, "templlm: split_rows needs a contiguous view");
    return {data, rows * (cols / n), n, n};
  }
};

/// A weight as stored in the checkpoint. Shape is [out, in] for linears (HF nn.Linear), [n] for
/// vectors. Quantised formats point at their scales (`scales`, `scale_dtype`, `scale_shape`).
template <class Space = Host>
struct WeightView {
  DType dtype = DType::f32;
  std::array<std::int64_t, 4> shape{};
  int rank = 0;
  const std::byte* data = nullptr;

  bool empty() const { return data == nullptr; }
  std::int64_t dim(int i) const { return shape[i]; }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
  /// Rows [first, first + count) along dim 0 (one expert of a fused [E, ...] tensor).
  WeightView slice0(std::int64_t first, std::int64_t count) const {
    WeightView w = *this;
    const std::int64_t per_row = numel() / shape[0];
    w.data = data + first * per_row * static_cast<std::int64_t>(dtype_size(dtype));
    w.shape[0] = count;
    return w;
  }
  /// Drop the leading dim of a [1, ...] view.
  WeightView squeeze0() const {
    WeightView w = *this;
    for (int i = 0; i + 1 < rank; ++i) w.shape[i] = shape[i + 1];
    w.shape[rank - 1] = 0;
    --w.rank;
    return w;
  }
};

/// Bounds-checked helper: fails loudly if a caller asks for a row past the end.
inline void check_rows(std::int64_t have, std::int64_t want, const char* what) {
  if (want > have)
    throw Error(std::string("templlm: ") + what + ": need " + std::to_string(want) +
                " rows, buffer holds " + std::to_string(have));
}

}  // namespace templlm
