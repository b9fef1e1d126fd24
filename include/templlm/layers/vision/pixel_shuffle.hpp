// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/pixel_shuffle.hpp
/// HF's pixel_shuffle (Llama 4) as a row gather: with ratio r, each output token of a tile
/// concatenates s = 1 / r neighbouring patches in each direction (s * s rows of `channels`),
/// token (ty, tx) taking patch (s * ty + dy, s * tx + dx) as its (dy * s + dx)-th block. The
/// class token (the tile's last row) is dropped. Returned: for every output block, in order, the
/// input row it copies, over all tiles — the gather turns [tiles * (patches + 1), C] into
/// [tiles * tokens * s * s, C] = [tiles * tokens, s * s * C].
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "../../core/error.hpp"

namespace templlm::layers {

/// Output tokens per tile of `grid` x `grid` patches at `ratio` (HF: (grid * ratio)^2).
inline int pixel_shuffle_tokens(int grid, float ratio) {
  const int s = int(std::lround(1.0 / ratio));
  check(s >= 1 && std::fabs(1.0 / s - ratio) < 1e-6 && grid % s == 0,
        "templlm: pixel shuffle needs a ratio 1/s that divides the patch grid");
  return (grid / s) * (grid / s);
}

inline std::vector<int> pixel_shuffle_rows(int tiles, int grid, float ratio) {
  const int s = int(std::lround(1.0 / ratio)), side = grid / s;
  (void)pixel_shuffle_tokens(grid, ratio);
  const int per_tile = grid * grid + 1;  // patches, then the class token
  std::vector<int> rows;
  rows.reserve(std::size_t(tiles) * std::size_t(grid) * std::size_t(grid));
  for (int t = 0; t < tiles; ++t)
    for (int ty = 0; ty < side; ++ty)
      for (int tx = 0; tx < side; ++tx)
        for (int dy = 0; dy < s; ++dy)
          for (int dx = 0; dx < s; ++dx) rows.push_back(t * per_tile + (s * ty + dy) * grid + s * tx + dx);
  return rows;
}

}  // namespace templlm::layers
