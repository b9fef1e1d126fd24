// SPDX-License-Identifier: Apache-2.0
/// \file vision/llama4_prompt.hpp
/// How Llama 4 lays an image out in the prompt (HF Llama4Processor._prompt_split_image):
/// <|image_start|>, then for more than one tile each row of tiles as runs of <|patch|> (one per
/// token of a tile) separated by <|tile_x_separator|> and ended by <|tile_y_separator|>, then
/// <|image|> and the global tile's run, then <|image_end|>. A single tile is just
/// <|image_start|><|image|>run<|image_end|>. The chat template writes <|image|> where an image
/// goes; the processor replaces each such placeholder by the layout. And the processor's options
/// from a checkpoint's preprocessor_config.json.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../tokenizer/tokenizer.hpp"
#include "llama4_image_processor.hpp"

namespace templlm::vision {

struct Llama4ImageTokens {
  int start, end, image, patch, tile_x, tile_y;

  /// The ids of the layout's special tokens in `tok`; the patch token must be the model's
  /// image token (config.json image_token_index).
  static Llama4ImageTokens from(const tokenizer::Tokenizer& tok, int image_token) {
    auto id = [&](std::string_view t) {
      const auto found = tok.token_to_id(t);
      if (!found) throw InvalidInput("templlm: the tokenizer has no " + std::string(t) + " token, which Llama 4 images need");
      return int(*found);
    };
    Llama4ImageTokens ids{id("<|image_start|>"), id("<|image_end|>"), id("<|image|>"), id("<|patch|>"),
                          id("<|tile_x_separator|>"), id("<|tile_y_separator|>")};
    if (ids.patch != image_token)
      throw InvalidInput("templlm: the tokenizer's <|patch|> is id " + std::to_string(ids.patch) +
                         " but config.json's image_token_index is " + std::to_string(image_token));
    return ids;
  }
};

/// The image's token run for tiles laid out rows x cols (plus the global tile when more than one).
inline std::vector<int> llama4_image_tokens(int rows, int cols, int tokens_per_tile, const Llama4ImageTokens& t) {
  std::vector<int> out{t.start};
  const std::vector<int> run(std::size_t(tokens_per_tile), t.patch);
  if (rows * cols > 1)
    for (int y = 0; y < rows; ++y) {
      for (int x = 0; x < cols; ++x) {
        out.insert(out.end(), run.begin(), run.end());
        if (x < cols - 1) out.push_back(t.tile_x);
      }
      out.push_back(t.tile_y);
    }
  out.push_back(t.image);
  out.insert(out.end(), run.begin(), run.end());
  out.push_back(t.end);
  return out;
}

/// The processor options of preprocessor_config.json in `dir` (absent: the release's defaults
/// with tiles of `tile` pixels). Only Llama4ImageProcessor's settings are read; a file that
/// names another processor, or values the preprocessing cannot honour, is refused.
inline Llama4ImageOptions llama4_image_options(const std::filesystem::path& dir, int tile) {
  Llama4ImageOptions o;
  o.tile = tile;
  const auto file = dir / "preprocessor_config.json";
  if (dir.empty() || !std::filesystem::exists(file)) return o;
  nlohmann::json j;
  try {
    std::ifstream in(file);
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw FormatError("templlm: " + file.string() + ": not valid JSON (" + e.what() + ")");
  }
  auto fail = [&](const std::string& what) { throw FormatError("templlm: " + file.string() + ": " + what); };
  if (!j.is_object()) fail("expected a JSON object");
  if (auto t = j.find("image_processor_type"); t != j.end() &&
      (!t->is_string() || t->get<std::string>().rfind("Llama4ImageProcessor", 0) != 0))
    fail("image_processor_type is " + t->dump() + ", expected Llama4ImageProcessor");
  try {
    if (j.contains("size")) {
      const int h = j["size"].at("height").get<int>(), w = j["size"].at("width").get<int>();
      if (h != w) fail("size must be square (height " + std::to_string(h) + ", width " + std::to_string(w) + ")");
      if (h != tile)
        fail("size " + std::to_string(h) + " differs from the vision tower's image_size " + std::to_string(tile));
      o.tile = h;
    }
    if (j.contains("max_patches")) o.max_tiles = j["max_patches"].get<int>();
    if (j.contains("resize_to_max_canvas")) o.resize_to_max_canvas = j["resize_to_max_canvas"].get<bool>();
    if (j.contains("rescale_factor")) o.rescale = j["rescale_factor"].get<float>();
    for (int c = 0; c < 3; ++c) {
      if (j.contains("image_mean")) o.mean[std::size_t(c)] = j["image_mean"].at(std::size_t(c)).get<float>();
      if (j.contains("image_std")) o.std[std::size_t(c)] = j["image_std"].at(std::size_t(c)).get<float>();
    }
    for (const char* flag : {"do_resize", "do_rescale", "do_normalize", "do_convert_rgb"})
      if (j.contains(flag) && !j[flag].get<bool>()) fail(std::string(flag) + " false is not supported");
    if (j.contains("resample") && j["resample"].get<int>() != 2)
      fail("resample " + j["resample"].dump() + " is not supported (2, bilinear, is what Llama 4 uses)");
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("a field has the wrong type or shape (") + e.what() + ")");
  }
  if (o.max_tiles < 1) fail("max_patches must be >= 1");
  return o;
}

}  // namespace templlm::vision
