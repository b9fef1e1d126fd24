// SPDX-License-Identifier: Apache-2.0
// vision/llama4_image_processor.hpp and vision/resize.hpp against transformers 5.24's
// Llama4ImageProcessor (tools/make_image_fixtures.py): the grid and resize size over a sweep of
// sizes and settings, the uint8 resize on its own (main and global tile), the bf16 normalisation
// table, and pixel_values; every comparison reports the max abs difference and how many values
// differ, and all are exact (0). Plus option validation and tokens per tile.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <templlm/io/image.hpp>
#include <templlm/io/npy.hpp>
#include <templlm/vision/llama4_image_processor.hpp>
#include <templlm/vision/resize.hpp>
#include <vector>

#include "image_fixtures.hpp"
#include "unit/io/expect_error.hpp"

namespace {

using namespace templlm;
using namespace templlm::test;

io::Image from_npy(const NpyU8& a) {
  return {static_cast<int>(a.shape[1]), static_cast<int>(a.shape[0]), a.data};
}

struct Setting {
  const char* name;
  int tile, max_tiles;
};
constexpr Setting kTiny{"a", 56, 4};        // the tiny test setting
constexpr Setting kReleased{"b", 336, 16};  // the released checkpoints' defaults

struct Case {
  const char* stem;  // the file name with '.' as '_'
  Setting setting;
  bool full_pixel_values;  // the processor's pixel_values are stored; else rebuilt from uint8
};

/// The processor's pixel_values rebuilt from its own uint8 images (resized, global tile) and its
/// own per-value bf16 map: the generator asserted this equals its pixel_values bit for bit.
std::vector<float> rebuild_pixel_values(const io::Image& resized, const io::Image* global, int rows,
                                        int cols, int tile, const std::vector<float>& lut) {
  std::vector<float> out;
  const auto put_tile = [&](const io::Image& img, int x0, int y0) {
    for (int c = 0; c < 3; ++c)
      for (int y = y0; y < y0 + tile; ++y)
        for (int x = x0; x < x0 + tile; ++x)
          out.push_back(lut[x < img.width && y < img.height
                                ? img.rgb[(std::size_t(y) * img.width + x) * 3 + c]
                                : 0]);
  };
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) put_tile(resized, c * tile, r * tile);
  if (global) put_tile(*global, 0, 0);
  return out;
}

class Processor : public ::testing::TestWithParam<Case> {};

TEST_P(Processor, MatchesTransformers) {
  const Case& k = GetParam();
  const std::string base = std::string(k.stem) + "." + k.setting.name;
  const io::Image image = from_npy(read_npy_u8(expected_dir() / (std::string(k.stem) + ".rgb.npy")));
  vision::Llama4ImageOptions opt;
  opt.tile = k.setting.tile;
  opt.max_tiles = k.setting.max_tiles;

  // the grid
  const io::NpyArray grid = io::read_npy_f32(expected_dir() / (base + ".grid.npy"));
  const vision::Llama4Layout layout = vision::llama4_layout(image.width, image.height, opt);
  EXPECT_EQ(layout.rows, int(grid.data[0]));
  EXPECT_EQ(layout.cols, int(grid.data[1]));

  // the resize on its own
  const io::Image ref_resized = from_npy(read_npy_u8(expected_dir() / (base + ".resized.npy")));
  ASSERT_EQ(layout.resized_width, ref_resized.width);
  ASSERT_EQ(layout.resized_height, ref_resized.height);
  const io::Image resized =
      layout.resized_width == image.width && layout.resized_height == image.height
          ? image
          : vision::resize_bilinear_antialias(image, layout.resized_width, layout.resized_height);
  const Diff dr = diff(resized.rgb, ref_resized.rgb);
  EXPECT_EQ(dr.differing, 0u) << base << " resize " << image.width << "x" << image.height << " -> "
                              << resized.width << "x" << resized.height << ": " << dr.differing
                              << " of " << resized.rgb.size() << " values differ, max abs " << dr.max_abs;
  const bool has_global = layout.rows * layout.cols > 1;
  io::Image ref_global;
  if (has_global) {
    ref_global = from_npy(read_npy_u8(expected_dir() / (base + ".global.npy")));
    const io::Image global = vision::resize_bilinear_antialias(image, opt.tile, opt.tile);
    const Diff dg = diff(global.rgb, ref_global.rgb);
    EXPECT_EQ(dg.differing, 0u) << base << " global tile: " << dg.differing << " differ, max abs "
                                << dg.max_abs;
  }

  // pixel_values
  const vision::Llama4Tiles tiles = vision::llama4_preprocess(image, opt);
  EXPECT_EQ(tiles.rows, layout.rows);
  EXPECT_EQ(tiles.cols, layout.cols);
  EXPECT_EQ(tiles.tile, opt.tile);
  EXPECT_EQ(tiles.count, int(grid.data[2]));
  std::vector<float> ref;
  if (k.full_pixel_values) {
    const io::NpyArray pv = io::read_npy_f32(expected_dir() / (base + ".pixel_values.npy"));
    ASSERT_EQ(pv.shape, (std::vector<std::int64_t>{tiles.count, 3, opt.tile, opt.tile}));
    ref = pv.data;
  } else {
    const io::NpyArray lut = io::read_npy_f32(expected_dir() / "lut.npy");
    ref = rebuild_pixel_values(ref_resized, has_global ? &ref_global : nullptr, layout.rows,
                               layout.cols, opt.tile, lut.data);
  }
  ASSERT_EQ(tiles.pixels.size(), ref.size());
  float max_abs = 0;
  std::size_t differing = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const float e = std::abs(tiles.pixels[i] - ref[i]);
    differing += e != 0;
    max_abs = std::max(max_abs, e);
  }
  EXPECT_EQ(differing, 0u) << base << " pixel_values: " << differing << " of " << ref.size()
                           << " differ, max abs " << max_abs;
}

std::vector<Case> cases() {
  std::vector<Case> out{{"wide_png", kTiny, true}, {"tall_jpg", kTiny, true},
                        {"wide_png", kReleased, false}, {"tall_jpg", kReleased, false}};
  for (const char* s : {"grid_jpg", "rgba_png", "gray_png", "gray_alpha_png", "palette_png", "palette_trns_png",
                        "rgb_trns_png", "rgb16_png", "gray16_png", "interlaced_png", "gray_jpg",
                        "progressive_jpg", "cmyk_jpg"})
    out.push_back({s, kTiny, false});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Images, Processor, ::testing::ValuesIn(cases()), [](const auto& info) {
  return std::string(info.param.stem) + "_" + info.param.setting.name;
});

// From the file: decode + preprocess, the way an application calls it.
TEST(Llama4Preprocess, FromFileEqualsTheProcessor) {
  if (!kHaveImages) GTEST_SKIP() << "built without libpng/libjpeg";
  vision::Llama4ImageOptions opt;
  opt.tile = 56;
  opt.max_tiles = 4;
  const vision::Llama4Tiles tiles = vision::llama4_preprocess(io::load_image(images_dir() / "tall.jpg"), opt);
  const io::NpyArray pv = io::read_npy_f32(expected_dir() / "tall_jpg.a.pixel_values.npy");
  EXPECT_EQ(tiles.pixels, pv.data);
  EXPECT_EQ(tiles.rows, 3);
  EXPECT_EQ(tiles.cols, 1);
  EXPECT_EQ(tiles.count, 4);
}

// The grid and resize size the processor picks over 3052 (size, setting) cases.
TEST(Llama4Layout, MatchesTheProcessorOverASweep) {
  const io::NpyArray t = io::read_npy_f32(expected_dir() / "layouts.npy");
  ASSERT_EQ(t.shape.size(), 2u);
  ASSERT_EQ(t.shape[1], 9);
  int wrong = 0;
  for (std::int64_t i = 0; i < t.shape[0]; ++i) {
    const float* r = t.data.data() + i * 9;
    vision::Llama4ImageOptions opt;
    opt.tile = int(r[0]);
    opt.max_tiles = int(r[1]);
    opt.resize_to_max_canvas = r[2] != 0;
    const vision::Llama4Layout l = vision::llama4_layout(int(r[3]), int(r[4]), opt);
    const bool ok = l.rows == int(r[5]) && l.cols == int(r[6]) && l.resized_width == int(r[7]) &&
                    l.resized_height == int(r[8]);
    if (!ok && ++wrong <= 10)
      ADD_FAILURE() << "tile " << opt.tile << " max " << opt.max_tiles << " to_max "
                    << opt.resize_to_max_canvas << " image " << r[3] << "x" << r[4] << ": got grid "
                    << l.rows << "x" << l.cols << " resize " << l.resized_width << "x"
                    << l.resized_height << ", transformers " << r[5] << "x" << r[6] << " resize "
                    << r[7] << "x" << r[8];
  }
  EXPECT_EQ(wrong, 0) << "of " << t.shape[0];
}

// The bf16 rescale + normalize of every uint8 value equals the processor's, at the defaults.
TEST(Llama4Preprocess, Bf16NormalizationTableIsExact) {
  const io::NpyArray lut = io::read_npy_f32(expected_dir() / "lut.npy");
  const auto table = vision::detail::llama4_normalize_table({});
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) EXPECT_EQ(table[c][v], lut.data[v]) << "channel " << c << " value " << v;
}

TEST(Llama4Preprocess, RefusesBadOptions) {
  const io::Image img{4, 4, std::vector<std::uint8_t>(48, 7)};
  auto with = [&](auto edit) {
    vision::Llama4ImageOptions o;
    edit(o);
    return [&img, o] { (void)vision::llama4_preprocess(img, o); };
  };
  expect_error<InvalidInput>(with([](auto& o) { o.tile = 0; }), {"tile is 0"});
  expect_error<InvalidInput>(with([](auto& o) { o.tile = -3; }), {"tile is -3"});
  expect_error<InvalidInput>(with([](auto& o) { o.max_tiles = 0; }), {"max_tiles is 0"});
  expect_error<InvalidInput>(with([](auto& o) { o.std[1] = 0; }), {"channel 1", "std"});
  expect_error<InvalidInput>(with([](auto& o) { o.mean[2] = NAN; }), {"channel 2", "finite"});
  expect_error<InvalidInput>([] { (void)vision::llama4_preprocess(io::Image{4, 4, {1, 2, 3}}); },
                             {"4x4", "3 bytes"});
  expect_error<InvalidInput>([] { (void)vision::llama4_preprocess(io::Image{}); }, {"0x0"});
  expect_error<InvalidInput>([] { (void)vision::resize_bilinear_antialias(io::Image{1, 1, {1, 2, 3}}, 0, 5); },
                             {"0x5"});
}

TEST(Llama4Preprocess, TokensPerTile) {
  EXPECT_EQ(vision::llama4_tokens_per_tile(336, 14, 0.5f), 144);  // Scout / Maverick
  EXPECT_EQ(vision::llama4_tokens_per_tile(56, 14, 0.5f), 4);     // the tiny fixtures
  EXPECT_EQ(vision::llama4_tokens_per_tile(56, 7, 0.5f), 16);
  EXPECT_EQ(vision::llama4_tokens_per_tile(56, 8, 1.0f), 49);
  expect_error<InvalidInput>([] { (void)vision::llama4_tokens_per_tile(336, 0, 0.5f); }, {"patch 0"});
}

// Identity and one-axis resizes leave the untouched axis alone (torch skips that pass).
TEST(ResizeBilinearAntialias, IdentityAndSingleAxis) {
  io::Image img{5, 3, {}};
  for (int i = 0; i < 45; ++i) img.rgb.push_back(static_cast<std::uint8_t>(i * 37 % 251));
  EXPECT_EQ(vision::resize_bilinear_antialias(img, 5, 3).rgb, img.rgb);
  const io::Image wide = vision::resize_bilinear_antialias(img, 9, 3);  // rows resampled alone
  const io::Image row0 = vision::resize_bilinear_antialias(io::Image{5, 1, {img.rgb.begin(), img.rgb.begin() + 15}}, 9, 1);
  EXPECT_EQ(std::vector<std::uint8_t>(wide.rgb.begin(), wide.rgb.begin() + 27), row0.rgb);
}

}  // namespace
