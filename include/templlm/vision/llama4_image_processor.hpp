// SPDX-License-Identifier: Apache-2.0
/// \file vision/llama4_image_processor.hpp
/// Llama 4's image preprocessing, exactly transformers 5.24's Llama4ImageProcessor
/// (models/llama4/image_processing_llama4.py on TorchvisionBackend) for an RGB image:
///   1. the tile grid: get_best_fit over find_supported_resolutions(max_tiles) -- the smallest
///      upscale >= 1 (the largest with resize_to_max_canvas), else the mildest downscale; ties
///      go to the smallest canvas, then to the first in that function's order;
///   2. the size without distortion inside the canvas, upscaling clamped to max(side, tile)
///      unless resize_to_max_canvas (get_max_res_without_distortion);
///   3. torch's uint8 antialiased bilinear resize (vision/resize.hpp), zero padding right and
///      bottom to the canvas;
///   4. rescale and normalise in bfloat16 as the processor does: bf16(x) * rescale, rounded to
///      bf16, minus bf16(mean), rounded, divided by bf16(std), rounded (round to nearest even);
///   5. the tiles in row-major order, then, when there is more than one, a global tile: the
///      original image resized to tile x tile (distorting), normalised the same way.
/// The arithmetic of steps 1 and 2 follows the Python too: transformers divides int64 tensors
/// (float32 arithmetic) in some places and Python ints (float64) in others, and each is kept.
///
/// Thread safety: pure functions. Host-only.
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/numeric.hpp"
#include "../io/image.hpp"
#include "resize.hpp"

namespace templlm::vision {

/// The processor's settings; the defaults are the released checkpoints' (preprocessor_config
/// of Llama-4-Scout/Maverick: size 336x336, max_patches 16, mean = std = 0.5, 1/255).
struct Llama4ImageOptions {
  int tile = 336;        // size.height == size.width
  int max_tiles = 16;    // max_patches
  bool resize_to_max_canvas = false;
  std::array<float, 3> mean{.5f, .5f, .5f}, std{.5f, .5f, .5f};
  float rescale = 1.0f / 255;
};

/// The processor's output for one image.
struct Llama4Tiles {
  int rows = 0, cols = 0;  // the tile grid (aspect_ratios [ratio_h, ratio_w])
  int tile = 0;
  int count = 0;  // tiles in `pixels`: rows*cols, plus one global tile when rows*cols > 1
  std::vector<float> pixels;  // [count, 3, tile, tile], channel-first, as pixel_values
};

/// Where an image goes before padding: the grid and the size it is resized to (the processor's
/// target_size // tile and new_size_without_distortion).
struct Llama4Layout {
  int rows = 0, cols = 0;
  int resized_width = 0, resized_height = 0;
};

/// (tiles, patch, pixel_shuffle_ratio) -> image tokens per tile: (tile/patch)^2 / round(1/r^2),
/// as processing_llama4.py computes num_patches_per_chunk (336, 14, 0.5 -> 144).
inline int llama4_tokens_per_tile(int tile, int patch, float pixel_shuffle_ratio) {
  if (tile <= 0 || patch <= 0 || !(pixel_shuffle_ratio > 0.0f))
    throw InvalidInput("llama4_tokens_per_tile: tile " + std::to_string(tile) + ", patch " +
                       std::to_string(patch) + " and pixel_shuffle_ratio " +
                       std::to_string(pixel_shuffle_ratio) + " must all be positive");
  const double r = pixel_shuffle_ratio;  // Python float arithmetic
  const int downsample = static_cast<int>(std::nearbyint(1.0 / (r * r)));  // round(): half to even
  if (downsample <= 0)
    throw InvalidInput("llama4_tokens_per_tile: pixel_shuffle_ratio " +
                       std::to_string(pixel_shuffle_ratio) + " gives a downsampling of 0");
  const int side = tile / patch;
  return side * side / downsample;
}

namespace detail {

inline void check_llama4_options(const Llama4ImageOptions& opt) {
  if (opt.tile <= 0 || opt.tile > 8192)
    throw InvalidInput("Llama4ImageOptions: tile is " + std::to_string(opt.tile) +
                       "; expected 1..8192 (the processor's size.height == size.width)");
  if (opt.max_tiles < 1 || opt.max_tiles > 1024)
    throw InvalidInput("Llama4ImageOptions: max_tiles is " + std::to_string(opt.max_tiles) +
                       "; expected 1..1024 (the processor's max_patches)");
  for (int c = 0; c < 3; ++c) {
    if (opt.std[c] == 0.0f || !std::isfinite(opt.std[c]) || !std::isfinite(opt.mean[c]))
      throw InvalidInput("Llama4ImageOptions: channel " + std::to_string(c) + " has mean " +
                         std::to_string(opt.mean[c]) + " and std " + std::to_string(opt.std[c]) +
                         "; std must be nonzero and both finite");
  }
  if (!std::isfinite(opt.rescale))
    throw InvalidInput("Llama4ImageOptions: rescale must be finite");
}

/// find_supported_resolutions: (rows, cols) for every factorisation of max_tiles..1, grouped by
/// aspect ratio in first-seen order (a Python dict keyed by rows/cols), factors ascending.
inline std::vector<std::pair<int, int>> llama4_supported_grids(int max_tiles) {
  std::vector<std::pair<int, int>> ratios;                  // reduced (rows, cols), dict order
  std::vector<std::vector<std::pair<int, int>>> groups;
  for (int chunks = max_tiles; chunks >= 1; --chunks)
    for (int f = 1; f <= chunks; ++f) {  // sorted(get_factors(chunks))
      if (chunks % f) continue;
      const int r = f, c = chunks / f, g = std::gcd(r, c);
      const std::pair<int, int> key{r / g, c / g};
      std::size_t k = 0;
      while (k < ratios.size() && ratios[k] != key) ++k;
      if (k == ratios.size()) ratios.push_back(key), groups.emplace_back();
      groups[k].push_back({r, c});
    }
  std::vector<std::pair<int, int>> out;
  for (const auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

/// A target side as transformers holds it: a Python int (float64 division) or a 0-d int64
/// tensor (float32 division and comparison), depending on which branch produced it.
struct Side {
  int value = 0;
  bool tensor = false;
};

/// target / original as Python computes it: float32 for a tensor, float64 for an int.
inline double side_scale(Side target, int original) {
  return target.tensor ? static_cast<double>(static_cast<float>(target.value) / static_cast<float>(original))
                       : static_cast<double>(target.value) / original;
}

}  // namespace detail

/// Steps 1 and 2 of the file comment for a width x height image. InvalidInput for bad options
/// or a non-positive size.
inline Llama4Layout llama4_layout(int width, int height, const Llama4ImageOptions& opt = {}) {
  detail::check_llama4_options(opt);
  if (width <= 0 || height <= 0)
    throw InvalidInput("llama4_layout: image size " + std::to_string(width) + "x" +
                       std::to_string(height) + " must be at least 1x1");
  // get_best_fit, in float32 (int64 tensor / int)
  const auto grids = detail::llama4_supported_grids(opt.max_tiles);
  std::vector<float> scales(grids.size());
  for (std::size_t i = 0; i < grids.size(); ++i) {
    const float sh = static_cast<float>(grids[i].first * opt.tile) / static_cast<float>(height);
    const float sw = static_cast<float>(grids[i].second * opt.tile) / static_cast<float>(width);
    scales[i] = sh > sw ? sw : sh;  // torch.where(scale_h > scale_w, scale_w, scale_h)
  }
  bool any_up = false;
  float up_min = 0, up_max = 0, down_max = 0;
  bool any_down = false;
  for (float s : scales) {
    if (s >= 1.0f) {
      up_min = any_up ? std::min(up_min, s) : s;
      up_max = any_up ? std::max(up_max, s) : s;
      any_up = true;
    } else {
      down_max = any_down ? std::max(down_max, s) : s;
      any_down = true;
    }
  }
  const float selected = any_up ? (opt.resize_to_max_canvas ? up_max : up_min) : down_max;
  std::size_t best = grids.size();
  for (std::size_t i = 0; i < grids.size(); ++i)  // argmin of the area: the first smallest
    if (scales[i] == selected &&
        (best == grids.size() || grids[i].first * grids[i].second < grids[best].first * grids[best].second))
      best = i;
  const int rows = grids[best].first, cols = grids[best].second;
  const int canvas_h = rows * opt.tile, canvas_w = cols * opt.tile;

  // The upscaling clamp: Python's min(a, b) returns the tensor b only when b < a.
  detail::Side th{canvas_h, true}, tw{canvas_w, true};
  if (!opt.resize_to_max_canvas) {
    const int ah = std::max(height, opt.tile), aw = std::max(width, opt.tile);
    th = canvas_h < ah ? detail::Side{canvas_h, true} : detail::Side{ah, false};
    tw = canvas_w < aw ? detail::Side{canvas_w, true} : detail::Side{aw, false};
  }
  // get_max_res_without_distortion
  const double scale_w = detail::side_scale(tw, width), scale_h = detail::side_scale(th, height);
  const bool f32 = tw.tensor || th.tensor;  // a comparison with a tensor happens in float32
  const bool w_limits = f32 ? static_cast<float>(scale_w) < static_cast<float>(scale_h) : scale_w < scale_h;
  const auto floor_mul = [](int original, double scale, bool tensor) {
    return tensor ? static_cast<int>(std::floor(static_cast<float>(original) * static_cast<float>(scale)))
                  : static_cast<int>(std::floor(original * scale));
  };
  int new_h = 0, new_w = 0;
  if (w_limits) {
    new_w = tw.value;
    new_h = std::min(floor_mul(height, scale_w, tw.tensor), th.value);
  } else {
    new_h = th.value;
    new_w = std::min(floor_mul(width, scale_h, th.tensor), tw.value);
  }
  return {rows, cols, std::max(new_w, 1), std::max(new_h, 1)};
}

namespace detail {

/// Step 4 for each uint8 value and channel: the bf16 chain, exactly, as a lookup table.
inline std::array<std::array<float, 256>, 3> llama4_normalize_table(const Llama4ImageOptions& opt) {
  const auto bf16 = [](float f) { return bf16_to_f32(f32_to_bf16(f)); };
  std::array<std::array<float, 256>, 3> t{};
  for (int c = 0; c < 3; ++c) {
    const float mean = bf16(opt.mean[c]), std = bf16(opt.std[c]);  // torch.as_tensor(.., bf16)
    for (int v = 0; v < 256; ++v) {
      const float scaled = bf16(static_cast<float>(v) * opt.rescale);  // bf16(v) is exact
      t[c][v] = bf16(bf16(scaled - mean) / std);
    }
  }
  return t;
}

/// Appends the [3, tile, tile] tile at (x0, y0) of `img`, zero (padding) outside it.
inline void llama4_append_tile(std::vector<float>& out, const io::Image& img, int x0, int y0,
                               int tile, const std::array<std::array<float, 256>, 3>& table) {
  for (int c = 0; c < 3; ++c)
    for (int y = y0; y < y0 + tile; ++y)
      for (int x = x0; x < x0 + tile; ++x) {
        const bool inside = x < img.width && y < img.height;
        const std::uint8_t v = inside ? img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3 + c] : 0;
        out.push_back(table[c][v]);
      }
}

}  // namespace detail

/// The processor's pixel_values and aspect_ratios for one decoded image (see the file comment).
/// InvalidInput for bad options or an image whose buffer is not width * height * 3 bytes.
inline Llama4Tiles llama4_preprocess(const io::Image& image, const Llama4ImageOptions& opt = {}) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw InvalidInput("llama4_preprocess: the image is " + std::to_string(image.width) + "x" +
                       std::to_string(image.height) + " with " + std::to_string(image.rgb.size()) +
                       " bytes; expected width * height * 3 bytes and a size of at least 1x1");
  const Llama4Layout layout = llama4_layout(image.width, image.height, opt);
  const auto table = detail::llama4_normalize_table(opt);
  const bool same = layout.resized_width == image.width && layout.resized_height == image.height;
  const io::Image resized =
      same ? image : resize_bilinear_antialias(image, layout.resized_width, layout.resized_height);

  Llama4Tiles out;
  out.rows = layout.rows;
  out.cols = layout.cols;
  out.tile = opt.tile;
  const int grid = layout.rows * layout.cols;
  out.count = grid + (grid > 1 ? 1 : 0);
  out.pixels.reserve(static_cast<std::size_t>(out.count) * 3 * opt.tile * opt.tile);
  for (int r = 0; r < layout.rows; ++r)  // split_to_tiles: row-major over the grid
    for (int c = 0; c < layout.cols; ++c)
      detail::llama4_append_tile(out.pixels, resized, c * opt.tile, r * opt.tile, opt.tile, table);
  if (grid > 1) {
    const bool square = image.width == opt.tile && image.height == opt.tile;
    detail::llama4_append_tile(out.pixels, square ? image : resize_bilinear_antialias(image, opt.tile, opt.tile),
                               0, 0, opt.tile, table);
  }
  return out;
}

}  // namespace templlm::vision
