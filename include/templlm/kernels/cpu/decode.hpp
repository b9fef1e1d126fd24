// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/decode.hpp
/// Turns stored weight elements (bf16, f16, f32) into fp32 rows, using the shared conversions
/// of core/numeric.hpp. Quantised formats (FP8 blocks, MXFP4) add their cases here.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "../../core/error.hpp"
#include "../../core/numeric.hpp"
#include "../../core/tensor.hpp"

namespace templlm::cpu {

/// Writes rows [row0, row0 + rows) of a 2-D (or flattened) weight into dst as fp32, row-major.
inline void decode_rows(float* dst, const WeightView<Host>& w, std::int64_t row0, std::int64_t rows) {
  const std::int64_t cols = w.rank == 1 ? w.shape[0] : w.numel() / w.shape[0];
  const std::int64_t first = row0 * cols, count = rows * cols;
  switch (w.dtype) {
    case DType::f32:
      std::memcpy(dst, reinterpret_cast<const float*>(w.data) + first, count * sizeof(float));
      return;
    case DType::bf16: {
      const auto* src = reinterpret_cast<const std::uint16_t*>(w.data) + first;
      for (std::int64_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(src[i]);
      return;
    }
    case DType::f16: {
      const auto* src = reinterpret_cast<const std::uint16_t*>(w.data) + first;
      for (std::int64_t i = 0; i < count; ++i) dst[i] = f16_to_f32(src[i]);
      return;
    }
    default:
      throw Unsupported(std::string("templlm: the CPU backend cannot compute with ") +
                        std::string(dtype_name(w.dtype)) + " weights here");
  }
}

/// A whole 1-D weight (norm weights, biases, sinks) as fp32.
inline void decode_vector(float* dst, const WeightView<Host>& w) { decode_rows(dst, w, 0, 1); }

}  // namespace templlm::cpu
