// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/rope.hpp
/// Rotary embedding applied in place to [T, heads * head_dim] rows, each row at its own
/// absolute position. The frequency table comes from layers/rope.hpp (one per model).
#pragma once
#include <cmath>
#include <cstdint>
#include <span>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"

namespace templlm::cpu {

/// Rotates the first `rotary_dim` dims of each head (all of them unless partial RoPE).
/// inv_freq has rotary_dim / 2 entries; cos and sin are scaled by attention_factor (YaRN).
inline void rope(MatrixView<float> x, int heads, int head_dim, std::span<const int> positions,
                 std::span<const float> inv_freq, float attention_factor, cfg::RopeLayout layout) {
  const int half = static_cast<int>(inv_freq.size());
  check(x.cols == std::int64_t(heads) * head_dim && std::int64_t(positions.size()) == x.rows &&
            2 * half <= head_dim,
        "templlm: rope: shapes disagree");
  float cos_v[512], sin_v[512];
  check(half <= 512, "templlm: rope: rotary dim above 1024 is not supported");
  for (std::int64_t t = 0; t < x.rows; ++t) {
    for (int i = 0; i < half; ++i) {
      const float angle = math::rope_angle(inv_freq[i], positions[t]);
      cos_v[i] = std::cos(angle) * attention_factor;
      sin_v[i] = std::sin(angle) * attention_factor;
    }
    for (int h = 0; h < heads; ++h) {
      float* v = x.row(t) + std::int64_t(h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const int a = layout == cfg::RopeLayout::half_split ? i : 2 * i;
        const int b = layout == cfg::RopeLayout::half_split ? i + half : 2 * i + 1;
        const auto r = math::rotate(v[a], v[b], cos_v[i], sin_v[i]);
        v[a] = r.a;
        v[b] = r.b;
      }
    }
  }
}

}  // namespace templlm::cpu
