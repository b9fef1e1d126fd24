// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/utf8.hpp
/// UTF-8 helpers for the tokenizer: decoding one code point, encoding, and making arbitrary bytes
/// valid UTF-8 the way Python's `bytes.decode("utf-8", "replace")` and Rust's `from_utf8_lossy` do
/// (each maximal invalid subpart becomes one U+FFFD). Host-only; depends on nothing in templlm.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace templlm::tokenizer::utf8 {

inline constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the well-formed sequence at s[i..], or 0 if it is not well formed (Unicode Table
/// 3-7). `*bad` gets the length of the maximal invalid subpart to replace when 0 is returned.
inline std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t* bad = nullptr) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t n = s.size() - i;
  const unsigned c = b(0);
  if (c < 0x80) return 1;
  std::size_t need = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    if (bad) *bad = 1;
    return 0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    const unsigned lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
    if (k >= n || b(k) < lo_k || b(k) > hi_k) {
      if (bad) *bad = k;
      return 0;
    }
  }
  return need + 1;
}

/// The offset of the first byte of `s` that is not part of well-formed UTF-8, or npos.
inline std::size_t first_invalid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const std::size_t len = sequence_length(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

/// True if `s` is well-formed UTF-8.
inline bool is_valid(std::string_view s) { return first_invalid(s) == std::string_view::npos; }

/// `s` with every maximal invalid subpart replaced by U+FFFD (Python "replace" semantics).
inline std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t bad = 0;
    const std::size_t len = sequence_length(s, i, &bad);
    if (len) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += replacement;
      i += bad;
    }
  }
  return out;
}

/// Decodes the code point at s[i] and advances i. Callers pass valid UTF-8; a sequence cut
/// short by the end of `s` still never reads past it (it gives U+FFFD and advances one byte).
inline char32_t next(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  const std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (n > s.size() - i) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

/// Byte length of the (valid) sequence starting with lead byte `c`.
inline std::size_t lead_length(unsigned char c) {
  return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
}

inline void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence that more bytes
/// could still complete. Invalid bytes count as complete (they decode to U+FFFD whatever follows).
inline std::size_t complete_prefix(std::string_view s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    if (c < 0xC2 || c > 0xF4) return n;
    if (lead_length(c) <= back) return n;
    // A truncated sequence: keep it back only if what is there is still a valid prefix.
    std::size_t bad = 0;
    std::string padded(s.substr(n - back));
    if (sequence_length(padded, 0, &bad) == 0 && bad == back) return n - back;
    return n;
  }
  return n;
}

}  // namespace templlm::tokenizer::utf8
