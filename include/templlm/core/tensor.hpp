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

/// A vector of T in one memory space (a norm weight, a bias, sinks); empty when data is null.
template <class T, class Space = Host>
struct VectorView {
  T* data = nullptr;
  std::int64_t size = 0;
  bool empty() const { return data == nullptr; }
};

/// How a weight's elements are stored.
enum class Quant {
  none,       // `dtype` elements
  fp8_block,  // f8_e4m3 elements times an fp32 scale per block x block tile (DeepSeek: 128)
  mxfp4,      // u8 bytes of two e2m1 values (low nibble = even column) + a u8 e8m0 scale per 32
};

/// A weight as stored in the checkpoint, seen as a logical [out, in] matrix (HF nn.Linear) or
/// an [n] vector. The storage may be quantised, transposed ([in, out] on disk, Llama 4's fused
/// experts) or a row selection of a larger tensor (one expert of a fused [E, out, in] tensor:
/// row_base = e * out; GPT-OSS's interleaved gate/up: row_step = 2). Logical row r lives at
/// physical row row_base + r * row_step. Backends decode with the shared functions of
/// core/numeric.hpp (kernels/cpu/decode.hpp on the CPU).
template <class Space = Host>
struct WeightView {
  DType dtype = DType::f32;
  std::array<std::int64_t, 4> shape{};  // logical
  int rank = 0;
  const std::byte* data = nullptr;      // the whole stored tensor

  Quant quant = Quant::none;
  std::int64_t ld = 0;        // elements between physical rows (0: the logical column count)
  std::int64_t row_base = 0;  // physical row of logical row 0
  std::int64_t row_step = 1;
  bool transposed = false;    // stored [in, out]: element (r, c) at c * ld + physical row
  const std::byte* scales = nullptr;  // fp8_block: fp32 [ceil(out/b), ceil(in/b)]; mxfp4: u8 [out, in/32]
  std::int64_t scale_ld = 0;  // elements between rows of `scales`
  int block = 0;              // fp8_block tile size

  bool empty() const { return data == nullptr; }
  std::int64_t dim(int i) const { return shape[i]; }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
  /// Columns of the logical matrix (the length of a vector).
  std::int64_t cols() const { return rank == 1 ? shape[0] : shape[rank - 1]; }
  std::int64_t stride() const { return ld != 0 ? ld : cols(); }
  /// Logical rows first, first + step, ... (count of them): one expert, or gate/up halves.
  WeightView rows(std::int64_t first, std::int64_t count, std::int64_t step = 1) const {
    WeightView w = *this;
    w.row_base = row_base + first * row_step;
    w.row_step = row_step * step;
    w.shape[0] = count;
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
