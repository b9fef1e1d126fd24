// SPDX-License-Identifier: Apache-2.0
/// \file layers/rope.hpp
/// RoPE frequency tables, computed as HF's modeling_rope_utils does, in fp32 where HF is fp32
/// (the inverse frequencies) and in double where HF uses Python floats (YaRN's correction range).
/// One overload per RoPE config type.
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>

#include "../core/config.hpp"
#include "../core/op_args.hpp"

namespace templlm::layers {

/// HF _compute_default_rope_parameters: 1 / base^(float(2i) / dim), fp32.
inline std::vector<float> default_inv_freq(double theta, int dim) {
  std::vector<float> inv(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    const float exponent = float(2 * i) / float(dim);
    inv[i] = 1.0f / std::pow(float(theta), exponent);
  }
  return inv;
}

inline RopeTable rope_table(const cfg::Rope& r, int dim) {
  return {default_inv_freq(r.theta, dim), 1.0f, r.layout};
}

/// HF get_mscale: 0.1 * m * ln(s) + 1 for s > 1.
inline double yarn_mscale(double scale, double m = 1.0) {
  return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
}

/// HF _compute_yarn_parameters.
inline RopeTable rope_table(const cfg::YarnRope& r, int dim) {
  const double base = r.theta, factor = r.factor;
  auto correction_dim = [&](double rotations) {
    return dim * std::log(r.original_context / (rotations * 2 * std::numbers::pi)) /
           (2 * std::log(base));
  };
  double low = correction_dim(r.beta_fast), high = correction_dim(r.beta_slow);
  if (r.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, double(dim - 1));
  if (low == high) high += 0.001;
  std::vector<float> inv(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    const float pos_freq = std::pow(float(base), float(2 * i) / float(dim));
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (float(factor) * pos_freq);
    // HF: (arange_f32 - low) / (high - low) with the Python-double difference cast to fp32 once
    // (float(high) - float(low) differs in the last bit for GPT-OSS's untruncated range).
    const float ramp = std::clamp((float(i) - float(low)) / float(high - low), 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    inv[i] = interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  double attention_factor = yarn_mscale(factor);
  if (r.mscale != 0.0 && r.mscale_all_dim != 0.0)
    attention_factor = yarn_mscale(factor, r.mscale) / yarn_mscale(factor, r.mscale_all_dim);
  return {std::move(inv), float(attention_factor), r.layout};
}

/// HF _compute_llama3_parameters. The smoothing band is chosen with a select, never blended
/// arithmetically: with low == high factor the smooth term is inf/NaN outside the band.
inline RopeTable rope_table(const cfg::Llama3Rope& r, int dim) {
  std::vector<float> inv = default_inv_freq(r.theta, dim);
  const float low_wavelen = float(r.original_context / r.low_freq_factor);
  const float high_wavelen = float(r.original_context / r.high_freq_factor);
  for (float& f : inv) {
    const float wavelen = 2.0f * float(std::numbers::pi) / f;
    const float scaled = wavelen > low_wavelen ? f / float(r.factor) : f;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    if (medium) {
      const float smooth = (float(r.original_context) / wavelen - float(r.low_freq_factor)) /
                           float(r.high_freq_factor - r.low_freq_factor);
      f = (1.0f - smooth) * scaled / float(r.factor) + smooth * scaled;
    } else {
      f = scaled;
    }
  }
  return {std::move(inv), 1.0f, r.layout};
}

}  // namespace templlm::layers
