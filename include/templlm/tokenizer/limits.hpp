// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/limits.hpp
/// The bounds tokenizer.json loading enforces on what HF leaves unbounded, so a hostile file is
/// a FormatError instead of a stack overflow, a 16 GB allocation or an endless loop.
#pragma once
#include <string>
#include <string_view>

#include "templlm/core/error.hpp"

namespace templlm::tokenizer::limits {

/// The one depth limit of every recursive structure: Sequences of normalizers,
/// pre-tokenizers, decoders and post-processors nest at most this deep (published files use 2).
inline constexpr int max_sequence_depth = 16;

/// JSON nesting of one top-level member: each Sequence level is an object and an array, plus
/// a few levels for the leaves ({"pattern": {"Regex": ...}}).
inline constexpr int max_json_depth = 2 * max_sequence_depth + 8;

/// PCRE2's match limit (its default, set explicitly so that a pattern that backtracks
/// catastrophically fails the same way on every build).
inline constexpr unsigned regex_match_limit = 10'000'000;

/// Throws FormatError unless `depth` (0 for the top level) is within max_sequence_depth.
inline void check_depth(int depth, std::string_view what) {
  if (depth > max_sequence_depth)
    throw FormatError("templlm: tokenizer.json: " + std::string(what) +
                      " Sequences nest deeper than " + std::to_string(max_sequence_depth) +
                      " levels");
}

/// `text` as one UTF-8 character, as HF's `char` fields (Metaspace replacement, Strip content)
/// require; anything else (in particular "", on which decoding would never advance) throws.
inline std::string one_char(const std::string& text, std::string_view field) {
  const auto c = text.empty() ? 0 : static_cast<unsigned char>(text[0]);
  const std::size_t want = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (text.empty() || text.size() != want)
    throw FormatError("templlm: tokenizer.json: " + std::string(field) +
                      " must be exactly one character, found \"" +
                      (text.size() <= 40 ? text : text.substr(0, 37) + "...") + "\" (" +
                      std::to_string(text.size()) + " bytes)");
  return text;
}

}  // namespace templlm::tokenizer::limits
