// SPDX-License-Identifier: Apache-2.0
/// \file layers/fp8_weight.hpp
/// Loading a linear weight that a release may store FP8-block-quantised (DeepSeek-V3:
/// "<name>.weight" F8_E4M3 [out, in] plus "<name>.weight_scale_inv" F32
/// [ceil(out/128), ceil(in/128)]). The view keeps the stored bytes (no dequantisation): the
/// backends decode Quant::fp8_block blocks as they compute, edge blocks included.
#pragma once
#include <string>

#include "../core/error.hpp"
#include "../core/tensor_source.hpp"

namespace templlm::layers {

inline constexpr int fp8_block_size = 128;

/// "<weight_name>" (ending in ".weight") of logical shape [out, in]: FP8 blocks if its
/// "_scale_inv" sibling exists, otherwise as stored.
inline WeightView<Host> get_linear_weight(const TensorSource& src, const std::string& weight_name,
                                          std::int64_t out, std::int64_t in) {
  WeightView<Host> w = src.get(weight_name, {out, in});
  const std::string scale_name = weight_name + "_scale_inv";
  if (!src.contains(scale_name)) return w;
  const std::int64_t b = fp8_block_size;
  const WeightView<Host> s = src.get(scale_name, {(out + b - 1) / b, (in + b - 1) / b});
  if (w.dtype != DType::f8_e4m3 || s.dtype != DType::f32)
    throw TensorMismatch("templlm: " + weight_name + " has a weight_scale_inv: expected F8_E4M3 with F32 scales, found " +
                         std::string(dtype_name(w.dtype)) + " and " + std::string(dtype_name(s.dtype)));
  w.quant = Quant::fp8_block;
  w.scales = s.data;
  w.scale_ld = s.shape[1];
  w.block = int(b);
  return w;
}

}  // namespace templlm::layers
