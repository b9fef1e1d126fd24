// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/decode.hpp
/// Turns stored weight elements into fp32 logical rows, using the shared conversions of
/// core/numeric.hpp: bf16, f16, f32, FP8 e4m3fn with 128x128 block scales, MXFP4 (e2m1 pairs
/// with e8m0 scales per 32), plain or transposed or row-selected (core/tensor.hpp).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "../../core/error.hpp"
#include "../../core/numeric.hpp"
#include "../../core/tensor.hpp"

namespace templlm::cpu {

namespace detail {
inline float element(const WeightView<Host>& w, std::int64_t index) {
  switch (w.dtype) {
    case DType::f32: {
      float v;
      std::memcpy(&v, w.data + index * 4, 4);
      return v;
    }
    case DType::bf16: {
      std::uint16_t v;
      std::memcpy(&v, w.data + index * 2, 2);
      return bf16_to_f32(v);
    }
    case DType::f16: {
      std::uint16_t v;
      std::memcpy(&v, w.data + index * 2, 2);
      return f16_to_f32(v);
    }
    case DType::f8_e4m3: return fp8_e4m3fn_to_f32(std::uint8_t(w.data[index]));
    default:
      throw Unsupported(std::string("templlm: the CPU backend cannot compute with ") +
                        std::string(dtype_name(w.dtype)) + " weights");
  }
}

/// One physical row of a plain (untransposed, unquantised) weight.
inline void decode_plain_row(float* dst, const WeightView<Host>& w, std::int64_t prow,
                             std::int64_t cols) {
  const std::int64_t first = prow * w.stride();
  switch (w.dtype) {
    case DType::f32:
      std::memcpy(dst, w.data + first * 4, std::size_t(cols) * 4);
      return;
    case DType::bf16: {
      // memcpy, not a uint16_t*: files whose header is not padded put bf16 at odd addresses.
      const std::byte* src = w.data + first * 2;
      for (std::int64_t c = 0; c < cols; ++c) {
        std::uint16_t v;
        std::memcpy(&v, src + c * 2, 2);
        dst[c] = bf16_to_f32(v);
      }
      return;
    }
    default:
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = element(w, first + c);
  }
}
}  // namespace detail

/// Writes logical rows [row0, row0 + rows) of a weight into dst as fp32, row-major.
inline void decode_rows(float* dst, const WeightView<Host>& w, std::int64_t row0, std::int64_t rows) {
  const std::int64_t cols = w.cols();
  for (std::int64_t r = 0; r < rows; ++r, dst += cols) {
    const std::int64_t prow = w.row_base + (row0 + r) * w.row_step;
    switch (w.quant) {
      case Quant::none:
        if (!w.transposed) {
          detail::decode_plain_row(dst, w, prow, cols);
        } else {
          for (std::int64_t c = 0; c < cols; ++c) dst[c] = detail::element(w, c * w.stride() + prow);
        }
        break;
      case Quant::fp8_block: {
        const auto* q = reinterpret_cast<const std::uint8_t*>(w.data) + prow * w.stride();
        const std::byte* s = w.scales + (prow / w.block) * w.scale_ld * 4;
        for (std::int64_t c = 0; c < cols; ++c) {
          float scale;
          std::memcpy(&scale, s + (c / w.block) * 4, 4);
          dst[c] = fp8_e4m3fn_to_f32(q[c]) * scale;
        }
        break;
      }
      case Quant::mxfp4: {
        const auto* q = reinterpret_cast<const std::uint8_t*>(w.data) + prow * (w.stride() / 2);
        const auto* s = reinterpret_cast<const std::uint8_t*>(w.scales) + prow * w.scale_ld;
        for (std::int64_t c = 0; c < cols; c += 2) {
          const std::uint8_t byte = q[c / 2], scale = s[c / 32];
          dst[c] = mxfp4_to_f32(byte & 0x0f, scale);
          dst[c + 1] = mxfp4_to_f32(byte >> 4, scale);
        }
        break;
      }
    }
  }
}

/// A whole 1-D weight (norm weights, biases, sinks) as fp32.
inline void decode_vector(float* dst, const WeightView<Host>& w) {
  const std::int64_t n = w.cols();
  for (std::int64_t c = 0; c < n; ++c) dst[c] = detail::element(w, w.row_base * w.stride() + c);
}

}  // namespace templlm::cpu
