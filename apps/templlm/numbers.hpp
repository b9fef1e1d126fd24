// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/numbers.hpp
/// Numeric command-line values, each checked against the whole range its flag accepts: no
/// narrowing after std::stoll (--threads 4294967297 once meant 1 thread), no trailing text,
/// no NaN or infinity, no float that overflows to inf. Errors are UsageErrors naming the flag,
/// the text given and the range.
#pragma once
#include <charconv>
#include <cmath>
#include <concepts>
#include <limits>
#include <string>
#include <string_view>

#include "args.hpp"

namespace templlm::cli {

/// `text` as an integer of type T in [lo, hi]; `range` describes the range for the message.
template <std::integral T>
T parse_int(std::string_view flag, std::string_view text, T lo, T hi, std::string_view range) {
  const auto bad = [&] {
    return UsageError("--" + std::string(flag) + ": '" + std::string(text) + "' is not " +
                      std::string(range));
  };
  // Parsed as the widest type of the same signedness so that an out-of-range value is
  // reported as such, never wrapped into range.
  using Wide = std::conditional_t<std::is_signed_v<T>, long long, unsigned long long>;
  Wide v{};
  const char* b = text.data();
  const char* e = b + text.size();
  if (b != e && *b == '+') ++b;  // from_chars takes no '+'; "-1" for unsigned fails below
  const auto [p, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || p != e) throw bad();
  if (v < Wide(lo) || v > Wide(hi)) throw bad();
  return T(v);
}

/// `text` as a finite float in [lo, hi] ((lo, hi] when exclusive_lo).
inline float parse_float(std::string_view flag, std::string_view text, double lo, double hi,
                         std::string_view range, bool exclusive_lo = false) {
  const auto bad = [&] {
    return UsageError("--" + std::string(flag) + ": '" + std::string(text) + "' is not " +
                      std::string(range));
  };
  double v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  if (b != e && *b == '+') ++b;
  const auto [p, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || p != e || !std::isfinite(v)) throw bad();
  if (std::fabs(v) > double(std::numeric_limits<float>::max())) throw bad();  // inf as a float
  if (v < lo || v > hi || (exclusive_lo && v == lo)) throw bad();
  return float(v);
}

/// The value of --key, or `fallback` when it is absent.
template <std::integral T>
T int_flag(const Args& a, const std::string& key, T fallback, T lo, T hi, std::string_view range) {
  const auto v = a.get(key);
  return v ? parse_int<T>(key, *v, lo, hi, range) : fallback;
}

inline float float_flag(const Args& a, const std::string& key, float fallback, double lo, double hi,
                        std::string_view range, bool exclusive_lo = false) {
  const auto v = a.get(key);
  return v ? parse_float(key, *v, lo, hi, range, exclusive_lo) : fallback;
}

}  // namespace templlm::cli
