// SPDX-License-Identifier: Apache-2.0
/// \file core/host_decode.hpp
/// Load-time decoding of small, unquantised host weights (bias rows that a layer must rearrange
/// before upload). The backends' hot-path decoding lives in kernels/.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include "error.hpp"
#include "numeric.hpp"
#include "tensor.hpp"

namespace templlm {

/// Logical row r of an unquantised, untransposed weight as fp32.
inline std::vector<float> decode_host_row(const WeightView<Host>& w, std::int64_t r) {
  check(w.quant == Quant::none && !w.transposed, "templlm: decode_host_row: plain weights only");
  const std::int64_t cols = w.cols(), first = (w.row_base + r * w.row_step) * w.stride();
  std::vector<float> out(static_cast<std::size_t>(cols));
  for (std::int64_t c = 0; c < cols; ++c) {
    const std::byte* p = w.data + (first + c) * std::int64_t(dtype_size(w.dtype));
    std::uint16_t h;
    switch (w.dtype) {
      case DType::f32: std::memcpy(&out[c], p, 4); break;
      case DType::bf16: std::memcpy(&h, p, 2); out[c] = bf16_to_f32(h); break;
      case DType::f16: std::memcpy(&h, p, 2); out[c] = f16_to_f32(h); break;
      default:
        throw Unsupported("templlm: cannot decode " + std::string(dtype_name(w.dtype)) +
                          " here (expected F32, BF16 or F16)");
    }
  }
  return out;
}

}  // namespace templlm
