// SPDX-License-Identifier: Apache-2.0
/// \file vision/resize.hpp
/// The uint8 antialiased bilinear resize of torch (aten/src/ATen/native/cpu/UpSampleKernel.cpp,
/// `_upsample_bilinear2d_aa` on a uint8 tensor: what torchvision's `resize(..., BILINEAR,
/// antialias=True)` runs on the CPU, and so what transformers' TorchvisionBackend processors
/// run). It is Pillow's ImagingResample with torch's integer weights: per axis, float64 filter
/// weights normalised to sum 1, then scaled to int16 at the largest precision (< 22 bits) that
/// keeps the largest weight below 2^15; each output is (sum w*x + 2^(p-1)) >> p clamped to
/// 0..255. Separable: the horizontal pass (all rows) first, rounded to uint8, then the vertical
/// one; an axis whose size does not change is not resampled.
///
/// Only the native uint8 kernel is reproduced: torchvision uses it where torch reports AVX2 or
/// AVX-512 or on ARM64; elsewhere it resizes in float32 and rounds, which can differ by one.
///
/// Thread safety: pure functions. Host-only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/image.hpp"

namespace templlm::vision {

/// One axis' resampling: output i reads `count[i]` inputs from `start[i]` with int16 weights
/// `weights[i * taps ...]` at `precision` fractional bits.
struct ResampleAxis {
  int taps = 0;
  unsigned precision = 0;
  std::vector<int> start, count;
  std::vector<std::int16_t> weights;
};

/// torch's HelperInterpLinear::compute_index_ranges_int16_weights for antialias=True,
/// align_corners=False and no explicit scale, operation for operation in float64.
inline ResampleAxis bilinear_aa_axis(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double support = scale >= 1.0 ? 1.0 * scale : 1.0;  // interp_size 2, times 0.5
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  ResampleAxis a;
  a.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.start.resize(out_size);
  a.count.resize(out_size);
  std::vector<double> w(static_cast<std::size_t>(out_size) * a.taps, 0.0);
  double w_max = 0.0;
  for (int i = 0; i < out_size; ++i) {
    const double center = scale * (i + 0.5);
    const std::int64_t xmin = std::max(static_cast<std::int64_t>(center - support + 0.5), std::int64_t{0});
    const std::int64_t xsize = std::clamp(
        std::min(static_cast<std::int64_t>(center + support + 0.5), std::int64_t{in_size}) - xmin,
        std::int64_t{0}, std::int64_t{a.taps});
    double* wi = w.data() + static_cast<std::size_t>(i) * a.taps;
    double total = 0.0;
    for (std::int64_t j = 0; j < xsize; ++j) {
      const double x = std::abs((static_cast<double>(j + xmin) - center + 0.5) * invscale);
      wi[j] = x < 1.0 ? 1.0 - x : 0.0;  // the triangle (bilinear) filter
      total += wi[j];
    }
    if (total != 0.0)
      for (std::int64_t j = 0; j < xsize; ++j) {
        wi[j] /= total;
        w_max = std::max(w_max, wi[j]);
      }
    a.start[i] = static_cast<int>(xmin);
    a.count[i] = static_cast<int>(xsize);
  }
  for (a.precision = 0; a.precision < 22; ++a.precision)
    if (static_cast<int>(0.5 + w_max * (1 << (a.precision + 1))) >= (1 << 15)) break;
  a.weights.resize(w.size());
  for (std::size_t k = 0; k < w.size(); ++k) {
    const double v = w[k] * (1 << a.precision);
    a.weights[k] = static_cast<std::int16_t>(v < 0 ? static_cast<int>(-0.5 + v) : static_cast<int>(0.5 + v));
  }
  return a;
}

namespace detail {

/// One output sample: clamp((sum_j w[o][j] * in[start + j] + 2^(p-1)) >> p, 0, 255) along an
/// axis whose consecutive samples are `step` bytes apart.
inline std::uint8_t resample_tap_sum(const ResampleAxis& a, int o, const std::uint8_t* in,
                                     std::size_t step) {
  int acc = 1 << (a.precision - 1);
  const std::int16_t* w = a.weights.data() + static_cast<std::size_t>(o) * a.taps;
  const std::uint8_t* p = in + static_cast<std::size_t>(a.start[o]) * step;
  for (int j = 0; j < a.count[o]; ++j) acc += w[j] * p[static_cast<std::size_t>(j) * step];
  acc >>= a.precision;
  return static_cast<std::uint8_t>(std::clamp(acc, 0, 255));
}

}  // namespace detail

/// Resizes `in` to out_width x out_height as torch's uint8 antialiased bilinear does (see the
/// file comment). InvalidInput for a non-positive size or an image whose buffer does not match.
inline io::Image resize_bilinear_antialias(const io::Image& in, int out_width, int out_height) {
  if (out_width <= 0 || out_height <= 0)
    throw InvalidInput("resize_bilinear_antialias: output size " + std::to_string(out_width) +
                       "x" + std::to_string(out_height) + " must be at least 1x1");
  if (in.width <= 0 || in.height <= 0 ||
      in.rgb.size() != static_cast<std::size_t>(in.width) * in.height * 3)
    throw InvalidInput("resize_bilinear_antialias: the input image is " + std::to_string(in.width) +
                       "x" + std::to_string(in.height) + " with " + std::to_string(in.rgb.size()) +
                       " bytes; expected width * height * 3 bytes and a size of at least 1x1");
  io::Image cur = in;
  if (out_width != in.width) {  // horizontal pass, every input row
    const ResampleAxis ax = bilinear_aa_axis(in.width, out_width);
    io::Image next{out_width, cur.height, std::vector<std::uint8_t>(std::size_t{3} * out_width * cur.height)};
    for (int y = 0; y < cur.height; ++y) {
      const std::uint8_t* row = cur.rgb.data() + std::size_t{3} * y * cur.width;
      std::uint8_t* dst = next.rgb.data() + std::size_t{3} * y * out_width;
      for (int x = 0; x < out_width; ++x)
        for (int c = 0; c < 3; ++c) dst[3 * x + c] = detail::resample_tap_sum(ax, x, row + c, 3);
    }
    cur = std::move(next);
  }
  if (out_height != in.height) {  // vertical pass, on the horizontally resized rows
    const ResampleAxis ax = bilinear_aa_axis(in.height, out_height);
    const std::size_t stride = std::size_t{3} * cur.width;
    io::Image next{cur.width, out_height, std::vector<std::uint8_t>(stride * out_height)};
    for (int y = 0; y < out_height; ++y)
      for (std::size_t k = 0; k < stride; ++k)
        next.rgb[y * stride + k] = detail::resample_tap_sum(ax, y, cur.rgb.data() + k, stride);
    cur = std::move(next);
  }
  return cur;
}

}  // namespace templlm::vision
