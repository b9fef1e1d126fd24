// SPDX-License-Identifier: Apache-2.0
// Fuzz target: PNG and JPEG bytes from memory (io/image.hpp decode_image), then Llama 4's
// preprocessing at a small tile (vision/llama4_image_processor.hpp). A refused input must be a
// templlm error; an accepted one is within the size limits with exactly width * height * 3
// bytes, and its tiles have the size the grid says.
#include <templlm/io/image.hpp>
#include <templlm/vision/llama4_image_processor.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm;
  fuzz::refused_or_ok([&] {
    const io::Image img = io::decode_image({data, size}, "fuzz image");
    fuzz::require(img.width >= 1 && img.height >= 1 && img.width <= io::kMaxImageSide &&
                      img.height <= io::kMaxImageSide &&
                      std::int64_t{img.width} * img.height <= io::kMaxImagePixels,
                  "a decoded image is within the size limits");
    fuzz::require(img.rgb.size() == std::size_t(img.width) * img.height * 3,
                  "a decoded image has width * height * 3 bytes");
    vision::Llama4ImageOptions opt;
    opt.tile = 14;
    opt.max_tiles = 6;
    const vision::Llama4Tiles t = vision::llama4_preprocess(img, opt);
    const int grid = t.rows * t.cols;
    fuzz::require(grid >= 1 && grid <= opt.max_tiles && t.count == grid + (grid > 1),
                  "the grid fits max_tiles and the count adds the global tile");
    fuzz::require(t.pixels.size() == std::size_t(t.count) * 3 * 14 * 14,
                  "pixel_values hold count * 3 * tile * tile values");
  });
  return 0;
}
