// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/patch_embedding.hpp
/// The host side of a ViT's input (HF Llama4UnfoldConvolution): image tiles [tiles, C, S, S]
/// cut into p x p patches as torch.nn.Unfold does (a patch's values ordered channel, row,
/// column; patches row-major), one row per patch and a zero row where each tile's class token
/// goes (after its patches), so that one linear without bias gives the patch embeddings and
/// leaves the class rows 0 for the tile table (class embedding + positions) to fill.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "../../core/error.hpp"

namespace templlm::layers {

/// [tiles * (grid * grid + 1), channels * patch * patch], grid = size / patch.
inline void unfold_patches(std::vector<float>& out, std::span<const float> pixels, int tiles, int channels,
                           int size, int patch) {
  check(tiles > 0 && size % patch == 0 &&
            pixels.size() == std::size_t(tiles) * std::size_t(channels) * std::size_t(size) * std::size_t(size),
        "templlm: unfold_patches: the pixels are not [tiles, channels, size, size]");
  const int grid = size / patch, rows_per_tile = grid * grid + 1;
  const std::size_t width = std::size_t(channels) * std::size_t(patch) * std::size_t(patch);
  out.assign(std::size_t(tiles) * std::size_t(rows_per_tile) * width, 0.0f);
  for (int t = 0; t < tiles; ++t)
    for (int py = 0; py < grid; ++py)
      for (int px = 0; px < grid; ++px) {
        float* row = out.data() + (std::size_t(t) * std::size_t(rows_per_tile) + std::size_t(py * grid + px)) * width;
        for (int c = 0; c < channels; ++c)
          for (int ky = 0; ky < patch; ++ky)
            for (int kx = 0; kx < patch; ++kx)
              *row++ = pixels[((std::size_t(t) * std::size_t(channels) + std::size_t(c)) * std::size_t(size) +
                               std::size_t(py * patch + ky)) * std::size_t(size) + std::size_t(px * patch + kx)];
      }
}

}  // namespace templlm::layers
