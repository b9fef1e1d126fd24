// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/byte_level.hpp
/// GPT-2's byte-to-unicode table (HF `bytes_char`): printable bytes map to themselves, the other
/// 68 bytes to U+0100.. in order. Byte-level vocabularies are written in these characters; the
/// tokenizer converts them back to raw bytes at load time so encoding never maps per byte.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer::byte_level {

/// byte -> code point.
inline const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

/// code point -> byte, or -1 for characters outside the table (index < 324).
inline int char_to_byte(char32_t cp) {
  static const std::array<std::int16_t, 324> table = [] {
    std::array<std::int16_t, 324> t{};
    t.fill(-1);
    for (int b = 0; b < 256; ++b)
      t[byte_to_char()[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
    return t;
  }();
  return cp < 324 ? table[cp] : -1;
}

/// The raw bytes a byte-level token stands for, or nullopt if it has a character outside the
/// table (such tokens can never come out of byte-level BPE).
inline std::optional<std::string> to_bytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size();) {
    const int b = char_to_byte(utf8::next(token, i));
    if (b < 0) return std::nullopt;
    out += static_cast<char>(b);
  }
  return out;
}

/// The byte-level spelling of raw bytes (for error messages and round trips).
inline std::string from_bytes(std::string_view bytes) {
  std::string out;
  for (const unsigned char b : bytes) utf8::append(out, byte_to_char()[b]);
  return out;
}

}  // namespace templlm::tokenizer::byte_level
