// SPDX-License-Identifier: Apache-2.0
/// \file vision/llama4_image_input.hpp
/// Llama 4's image input (vision::ImageInput<cfg::Llama4Vision>): the processor's settings from
/// the checkpoint, each image preprocessed (llama4_image_processor.hpp), encoded by the caller's
/// vision tower and laid out in the prompt in place of its <|image|> placeholder
/// (llama4_prompt.hpp). Thread safety: const after configure(); prompt() calls `encode` once per
/// image, in order, on the caller's thread.
#pragma once
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../io/image.hpp"
#include "../tokenizer/tokenizer.hpp"
#include "image_input.hpp"
#include "image_prompt.hpp"
#include "llama4_image_processor.hpp"
#include "llama4_prompt.hpp"

namespace templlm::vision {

template <>
class ImageInput<cfg::Llama4Vision> {
 public:
  /// What the chat format writes where an image goes (prompt() replaces it by its layout).
  static constexpr std::string_view placeholder = "<|image|>";

  explicit ImageInput(const cfg::Llama4Vision& c)
      : c_(c), tokens_per_tile_(llama4_tokens_per_tile(c.image_size, c.patch_size, c.pixel_shuffle_ratio)) {
    options_.tile = c.image_size;
  }
  /// preprocessor_config.json in the checkpoint folder, or the release's defaults.
  void configure(const std::filesystem::path& dir) { options_ = llama4_image_options(dir, c_.image_size); }
  const Llama4ImageOptions& options() const { return options_; }
  int tokens_per_tile() const { return tokens_per_tile_; }

  /// `ids` with each <|image|> replaced by its image's layout, and the images' features (from
  /// encode(pixels, tiles): [tiles * tokens_per_tile, hidden]) for the layout's <|patch|> rows.
  template <class Encode>
  ImagePrompt prompt(std::span<const int> ids, std::span<const io::Image> images, const tokenizer::Tokenizer& tok,
                     std::int64_t hidden, Encode&& encode) const {
    const auto t = Llama4ImageTokens::from(tok, c_.image_token);
    const auto placeholders = std::count(ids.begin(), ids.end(), t.image);
    if (std::size_t(placeholders) != images.size())
      throw InvalidInput("templlm: the prompt has " + std::to_string(placeholders) + " image placeholder" +
                         (placeholders == 1 ? "" : "s") + " (<|image|>) but " + std::to_string(images.size()) +
                         " image" + (images.size() == 1 ? " was" : "s were") + " given");
    ImagePrompt out;
    out.hidden = hidden;
    std::size_t next = 0;
    for (int id : ids) {
      if (id != t.image) {
        out.ids.push_back(id);
        continue;
      }
      const Llama4Tiles tiles = llama4_preprocess(images[next++], options_);
      check(tiles.tile == c_.image_size && tiles.count > 0, "templlm: the image processor made tiles of the wrong size");
      for (int tok_id : llama4_image_tokens(tiles.rows, tiles.cols, tokens_per_tile_, t)) {
        if (tok_id == t.patch) out.rows.push_back(std::int64_t(out.ids.size()));
        out.ids.push_back(tok_id);
      }
      const std::vector<float> f = encode(std::span<const float>(tiles.pixels), tiles.count);
      check(f.size() == std::size_t(tiles.count) * std::size_t(tokens_per_tile_) * std::size_t(hidden),
            "templlm: the vision tower's features do not match the image's tokens");
      out.embeddings.insert(out.embeddings.end(), f.begin(), f.end());
      out.tiles += tiles.count;
      ++out.images;
    }
    return out;
  }

 private:
  cfg::Llama4Vision c_;
  int tokens_per_tile_;
  Llama4ImageOptions options_;
};

}  // namespace templlm::vision
