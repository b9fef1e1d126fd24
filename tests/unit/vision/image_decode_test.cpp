// SPDX-License-Identifier: Apache-2.0
// io/image.hpp: every good test image decodes to exactly Pillow's decode + transformers'
// convert_to_rgb (tools/make_image_fixtures.py); broken, empty, unknown and oversized inputs
// throw the documented type naming the source.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <templlm/io/image.hpp>
#include <thread>
#include <vector>

#include "image_fixtures.hpp"
#include "unit/io/expect_error.hpp"

namespace {

using namespace templlm;
using namespace templlm::test;

class GoodImage : public ::testing::TestWithParam<const char*> {
  void SetUp() override {
    if (!kHaveImages) GTEST_SKIP() << "built without libpng/libjpeg";
  }
};

class DecodeImage : public ::testing::Test {
  void SetUp() override {
    if (!kHaveImages) GTEST_SKIP() << "built without libpng/libjpeg";
  }
};

TEST_P(GoodImage, DecodesExactlyAsPillow) {
  const std::string name = GetParam();
  std::string stem = name;
  stem[stem.rfind('.')] = '_';
  const io::Image img = io::load_image(images_dir() / name);
  const NpyU8 ref = read_npy_u8(expected_dir() / (stem + ".rgb.npy"));
  ASSERT_EQ(ref.shape.size(), 3u);
  ASSERT_EQ(img.height, ref.shape[0]);
  ASSERT_EQ(img.width, ref.shape[1]);
  ASSERT_EQ(img.rgb.size(), ref.data.size());
  const Diff d = diff(img.rgb, ref.data);
  EXPECT_EQ(d.differing, 0u) << name << ": " << d.differing << " of " << ref.data.size()
                             << " values differ from Pillow, max abs " << d.max_abs;
}

INSTANTIATE_TEST_SUITE_P(
    Images, GoodImage,
    ::testing::Values("wide.png", "tall.jpg", "grid.jpg", "rgba.png", "gray.png", "gray_alpha.png",
                      "palette.png", "palette_trns.png", "rgb_trns.png", "rgb16.png", "gray16.png",
                      "interlaced.png", "gray.jpg", "progressive.jpg", "cmyk.jpg",
                      "gray1_trns.png", "gray2_trns.png", "gray4_trns.png", "palette2.png"),
    [](const auto& info) {
      std::string s = info.param;
      for (char& c : s)
        if (c == '.') c = '_';
      return s;
    });

std::vector<std::uint8_t> file_bytes(const std::string& name) {
  std::ifstream in(images_dir() / name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

io::Image decode(const std::vector<std::uint8_t>& b, const char* what = "test bytes") {
  return io::decode_image(b, what);
}

TEST_F(DecodeImage, BrokenFilesNameTheSource) {
  expect_error<FormatError>([] { (void)io::load_image(images_dir() / "truncated.png"); },
                            {"truncated.png", "invalid PNG", "truncated"});
  expect_error<FormatError>([] { (void)io::load_image(images_dir() / "truncated.jpg"); },
                            {"truncated.jpg", "invalid JPEG", "Premature end of JPEG file"});
  expect_error<FormatError>([] { (void)io::load_image(images_dir() / "not_an_image.txt"); },
                            {"not_an_image.txt", "not a PNG or JPEG", "looks like GIF", "PNG and JPEG only"});
  expect_error<IoError>([] { (void)io::load_image(images_dir() / "no_such.png"); }, {"no_such.png"});
}

TEST_F(DecodeImage, EmptyAndUnknown) {
  expect_error<FormatError>([] { (void)io::decode_image({}, "image 2 of the request"); },
                            {"image 2 of the request", "empty"});
  expect_error<FormatError>([] { (void)decode({'B', 'M', 0, 0}); }, {"test bytes", "BMP"});
  expect_error<FormatError>([] { (void)decode({0x89, 'P', 'N'}); }, {"unrecognised first bytes"});
  expect_error<FormatError>([] { (void)decode({0xff, 0xd8, 0xff}); }, {"invalid JPEG"});
  expect_error<FormatError>([] { (void)decode({0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}); },
                            {"invalid PNG", "truncated"});
}

// Every strict prefix of a PNG and a JPEG is refused: never a half-decoded image, never a read
// past the span (the sanitizer build runs this too).
TEST_F(DecodeImage, EveryTruncationIsAnError) {
  for (const char* name : {"gray.jpg", "progressive.jpg", "palette_trns.png", "interlaced.png"}) {
    const auto full = file_bytes(name);
    ASSERT_NO_THROW((void)decode(full)) << name;
    int accepted = 0;
    for (std::size_t n = 1; n < full.size(); ++n) {
      const std::vector<std::uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(n));
      try {
        (void)decode(cut);
        ++accepted;
        // Pillow ignores PNG chunks after the image data (IEND may be missing), so may we.
        if (std::string(name).ends_with(".jpg") || n + 12 < full.size())
          ADD_FAILURE() << name << " cut to " << n << " of " << full.size() << " bytes decoded";
      } catch (const FormatError&) {
      }
    }
    if (std::string(name).ends_with(".jpg")) {
      EXPECT_EQ(accepted, 0) << name;
    }
  }
}

TEST_F(DecodeImage, CorruptDataIsAnError) {
  auto png = file_bytes("wide.png");
  png[png.size() / 2] ^= 0x55;  // inside IDAT: its CRC no longer matches
  expect_error<FormatError>([&] { (void)decode(png, "wide.png (damaged)"); },
                            {"wide.png (damaged)", "invalid PNG"});
  auto jpg = file_bytes("tall.jpg");
  ASSERT_GT(jpg.size(), 2u);
  jpg.pop_back();  // no EOI (FF D9): Pillow says "image file is truncated"
  jpg.pop_back();
  expect_error<FormatError>([&] { (void)decode(jpg, "tall.jpg (no EOI)"); },
                            {"tall.jpg (no EOI)", "Premature end"});
}

/// tall.jpg with its SOF0 frame size replaced.
std::vector<std::uint8_t> jpeg_with_size(int w, int h) {
  auto b = file_bytes("tall.jpg");
  for (std::size_t i = 2; i + 9 < b.size(); ++i)
    if (b[i] == 0xff && b[i + 1] == 0xc0) {
      b[i + 5] = std::uint8_t(h >> 8), b[i + 6] = std::uint8_t(h);
      b[i + 7] = std::uint8_t(w >> 8), b[i + 8] = std::uint8_t(w);
      return b;
    }
  ADD_FAILURE() << "tall.jpg has no SOF0";
  return b;
}

/// huge.png (IHDR 100000 x 100000) with another IHDR size (its CRC then mismatches: the size
/// check comes first).
std::vector<std::uint8_t> png_with_size(std::uint32_t w, std::uint32_t h) {
  auto b = file_bytes("huge.png");
  for (int i = 0; i < 4; ++i) {
    b[16 + i] = std::uint8_t(w >> (24 - 8 * i));
    b[20 + i] = std::uint8_t(h >> (24 - 8 * i));
  }
  return b;
}

// The size limits come from the header, before any pixel memory: a 100000 x 100000 PNG
// (30 GB of RGB) is refused with InvalidInput, not std::bad_alloc or an OOM kill.
TEST_F(DecodeImage, SizeLimits) {
  expect_error<InvalidInput>([] { (void)io::load_image(images_dir() / "huge.png"); },
                             {"huge.png", "100000x100000", "32768 pixels a side"});
  expect_error<InvalidInput>([] { (void)decode(png_with_size(20000, 20000)); },
                             {"20000x20000", "134217728 pixels in all"});
  expect_error<InvalidInput>([] { (void)decode(png_with_size(32769, 1)); }, {"32769x1"});
  expect_error<FormatError>([] { (void)decode(png_with_size(0, 5)); }, {"0x5", "at least 1"});
  expect_error<InvalidInput>([] { (void)decode(jpeg_with_size(60000, 60000)); },
                             {"JPEG", "60000x60000"});
  expect_error<InvalidInput>([] { (void)decode(jpeg_with_size(32768, 8192)); },
                             {"32768x8192", "134217728"});
  expect_error<FormatError>([] { (void)decode(jpeg_with_size(60, 0)); }, {"invalid JPEG"});
  static_assert(io::kMaxImageSide == 32768 && io::kMaxImagePixels == (1 << 27));
}

// Concurrent decodes share no state (the TSan build runs this).
TEST_F(DecodeImage, ConcurrentDecodesAgree) {
  const auto png = file_bytes("rgba.png"), jpg = file_bytes("progressive.jpg");
  const io::Image a = decode(png), b = decode(jpg);
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) ok[t] += decode(t % 2 ? png : jpg).rgb == (t % 2 ? a : b).rgb;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(ok[t], 20);
}

// Without libpng/libjpeg a PNG or JPEG is refused with a sentence saying how to get support.
TEST(DecodeImageWithoutLibraries, IsUnsupported) {
  if (kHaveImages) GTEST_SKIP() << "built with libpng/libjpeg";
  expect_error<Unsupported>([] { (void)io::load_image(images_dir() / "wide.png"); },
                            {"wide.png", "no image support", "libpng-dev"});
}

}  // namespace
