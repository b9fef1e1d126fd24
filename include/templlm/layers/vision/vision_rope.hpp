// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/vision_rope.hpp
/// Llama 4's 2-D vision RoPE as a table (HF Llama4VisionRotaryEmbedding, the axial RoPE of
/// Pixtral): one row per position of a tile (its patches row-major, then the class token), one
/// (cos, sin) per pair of adjacent dims. Of a head's head_dim / 2 pairs, the first half rotate by
/// the patch's column + 1, the second half by its row + 1, at frequencies
/// 1 / theta^(2k / (head_dim / 2)); the class token is not rotated. fp32 throughout, as HF.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "../../core/error.hpp"

namespace templlm::layers {

/// [grid * grid + 1, head_dim] values: (cos, sin) of pair j at columns 2j, 2j + 1.
inline std::vector<float> vision_rope_table(int grid, int head_dim, double theta) {
  check(grid > 0 && head_dim > 0 && head_dim % 4 == 0, "templlm: vision RoPE needs head_dim divisible by 4");
  const int freq_dim = head_dim / 2, per_axis = freq_dim / 2;
  std::vector<float> freq(static_cast<std::size_t>(per_axis));
  for (int k = 0; k < per_axis; ++k)  // torch: 1.0 / (theta ** (arange(0, fd, 2).float() / fd)), in fp32
    freq[std::size_t(k)] = 1.0f / std::pow(float(theta), float(2 * k) / float(freq_dim));
  const int rows = grid * grid + 1;
  std::vector<float> table(static_cast<std::size_t>(rows) * std::size_t(head_dim));
  for (int p = 0; p < rows; ++p) {
    const bool cls = p == rows - 1;
    for (int j = 0; j < freq_dim; ++j) {
      const int axis = j < per_axis ? p % grid + 1 : p / grid + 1;  // column, then row
      const float angle = cls ? 0.0f : float(axis) * freq[std::size_t(j % per_axis)];
      table[std::size_t(p) * std::size_t(head_dim) + std::size_t(2 * j)] = std::cos(angle);
      table[std::size_t(p) * std::size_t(head_dim) + std::size_t(2 * j + 1)] = std::sin(angle);
    }
  }
  return table;
}

}  // namespace templlm::layers
