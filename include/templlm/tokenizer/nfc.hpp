// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/nfc.hpp
/// Unicode NFC normalisation (UAX #15) over UTF-8 strings, using the tables generated from
/// Python's unicodedata into detail/nfc_tables.hpp. A quick check skips strings that NFC cannot
/// change, which is nearly all text. Host-only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "templlm/tokenizer/detail/nfc_tables.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer {
namespace detail::nfc {

inline constexpr char32_t s_base = 0xAC00, l_base = 0x1100, v_base = 0x1161, t_base = 0x11A7;
inline constexpr char32_t l_count = 19, v_count = 21, t_count = 28, n_count = 588, s_count = 11172;

inline std::uint8_t ccc(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto* it = std::upper_bound(std::begin(ccc_ranges), std::end(ccc_ranges), cp,
                                    [](char32_t c, const CccRange& r) { return c < r.first; });
  if (it == std::begin(ccc_ranges)) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

inline bool may_change(char32_t cp) {
  if (cp < 0x300) return false;
  const auto* it = std::upper_bound(std::begin(maybe_changes), std::end(maybe_changes), cp,
                                    [](char32_t c, const Range& r) { return c < r.first; });
  return it != std::begin(maybe_changes) && cp <= (it - 1)->last;
}

inline void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= s_base && cp < s_base + s_count) {
    const char32_t s = cp - s_base;
    out.push_back(l_base + s / n_count);
    out.push_back(v_base + (s % n_count) / t_count);
    if (s % t_count) out.push_back(t_base + s % t_count);
    return;
  }
  const auto* it = std::lower_bound(std::begin(decomps), std::end(decomps), cp,
                                    [](const Decomp& d, char32_t c) { return d.cp < c; });
  if (it != std::end(decomps) && it->cp == cp) {
    out.insert(out.end(), decomp_pool + it->offset, decomp_pool + it->offset + it->length);
  } else {
    out.push_back(cp);
  }
}

inline char32_t compose(char32_t a, char32_t b) {
  if (a >= l_base && a < l_base + l_count && b >= v_base && b < v_base + v_count)
    return s_base + ((a - l_base) * v_count + (b - v_base)) * t_count;
  if (a >= s_base && a < s_base + s_count && (a - s_base) % t_count == 0 && b > t_base &&
      b < t_base + t_count)
    return a + (b - t_base);
  const std::uint64_t key = (std::uint64_t{a} << 21) | b;
  const auto* it = std::lower_bound(std::begin(comps), std::end(comps), key,
                                    [](const Comp& c, std::uint64_t k) { return c.pair < k; });
  return it != std::end(comps) && it->pair == key ? it->composite : 0;
}

}  // namespace detail::nfc

/// True if NFC leaves the (valid UTF-8) string unchanged for certain.
inline bool nfc_quick_check(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0xCC) {  // below U+0300 nothing can change
      i += static_cast<unsigned char>(s[i]) < 0x80 ? 1 : 2;
      continue;
    }
    if (detail::nfc::may_change(utf8::next(s, i))) return false;
  }
  return true;
}

/// NFC of a valid UTF-8 string.
inline std::string nfc(std::string_view s) {
  using namespace detail::nfc;
  if (nfc_quick_check(s)) return std::string(s);
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) decompose(utf8::next(s, i), cps);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (std::size_t i = 0; i < cps.size();) {
    if (ccc(cps[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < cps.size() && ccc(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + static_cast<std::ptrdiff_t>(i),
                     cps.begin() + static_cast<std::ptrdiff_t>(j),
                     [](char32_t a, char32_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  // Canonical composition.
  std::size_t starter = 0;
  bool have_starter = false;
  int last_ccc = -1;
  std::size_t out = 0;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const int cc = ccc(c);
    if (have_starter) {
      const bool blocked = out > starter + 1 && (last_ccc == 0 || last_ccc >= cc);
      if (!blocked) {
        if (const char32_t comp = compose(cps[starter], c)) {
          cps[starter] = comp;
          continue;
        }
      }
    }
    if (cc == 0) {
      starter = out;
      have_starter = true;
      last_ccc = -1;
    } else {
      last_ccc = cc;
    }
    cps[out++] = c;
    if (cc == 0) last_ccc = 0;
  }
  std::string r;
  r.reserve(s.size());
  for (std::size_t i = 0; i < out; ++i) utf8::append(r, cps[i]);
  return r;
}

}  // namespace templlm::tokenizer
