// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/detail/json_scan.hpp
/// A forward-only JSON cursor for the two big members of tokenizer.json (`model.vocab` and
/// `model.merges`, up to 650k entries). nlohmann's DOM takes ~0.8 s on the 27 MB GPT-OSS file and
/// even its SAX lexer ~0.3 s; this cursor reads strings in place and takes a few tens of ms. Every
/// other member is handed, as its raw text, to nlohmann::json. Host-only.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer::detail {

class JsonCursor {
 public:
  JsonCursor(std::string_view text, std::string what) : s_(text), what_(std::move(what)) {}

  [[noreturn]] void fail(const std::string& msg) const {
    throw FormatError(what_ + ": " + msg + " at byte " + std::to_string(i_));
  }

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end of JSON");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool at_end() {
    ws();
    return i_ >= s_.size();
  }
  std::size_t offset() const noexcept { return i_; }

  /// Reads a string. Returns a view into the input when it has no escapes, else decodes into
  /// `scratch` and returns a view of that.
  std::string_view string(std::string& scratch) {
    expect('"');
    const std::size_t b = i_;
    const char* p = static_cast<const char*>(std::memchr(s_.data() + i_, '"', s_.size() - i_));
    if (p == nullptr) fail("unterminated string");
    // Only look for a backslash before the closing quote: scanning the rest of a 27 MB file for
    // every string would be quadratic.
    const char* bs = static_cast<const char*>(
        std::memchr(s_.data() + i_, '\\', static_cast<std::size_t>(p - (s_.data() + i_))));
    if (bs == nullptr) {
      i_ = static_cast<std::size_t>(p - s_.data()) + 1;
      return s_.substr(b, i_ - 1 - b);
    }
    scratch.assign(s_.data() + b, static_cast<std::size_t>(bs - (s_.data() + b)));
    i_ = static_cast<std::size_t>(bs - s_.data());
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return scratch;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        scratch += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated string");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          scratch += '"';
          break;
        case '\\':
          scratch += '\\';
          break;
        case '/':
          scratch += '/';
          break;
        case 'b':
          scratch += '\b';
          break;
        case 'f':
          scratch += '\f';
          break;
        case 'n':
          scratch += '\n';
          break;
        case 'r':
          scratch += '\r';
          break;
        case 't':
          scratch += '\t';
          break;
        case 'u': {
          char32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' &&
              s_[i_ + 1] == 'u') {
            i_ += 2;
            const char32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xD800 && cp < 0xE000) {
            fail("lone surrogate in string");
          }
          utf8::append(scratch, cp);
          break;
        }
        default:
          fail("bad escape in string");
      }
    }
  }

  std::int64_t integer() {
    ws();
    bool neg = false;
    if (i_ < s_.size() && s_[i_] == '-') {
      neg = true;
      ++i_;
    }
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') fail("expected an integer");
    std::int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + (s_[i_++] - '0');
      if (v > (std::int64_t{1} << 40)) fail("integer out of range");
    }
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'))
      fail("expected an integer");
    return neg ? -v : v;
  }

  /// Skips one value and returns its raw text (for nlohmann::json::parse).
  std::string_view skip_value() {
    ws();
    const std::size_t b = i_;
    int depth = 0;
    do {
      if (i_ >= s_.size()) fail("unexpected end of JSON");
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        while (i_ < s_.size() && s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
        if (i_ >= s_.size()) fail("unterminated string");
        ++i_;
      } else if (c == '{' || c == '[') {
        ++depth;
        ++i_;
      } else if (c == '}' || c == ']') {
        if (--depth < 0) fail("unbalanced brackets");
        ++i_;
      } else {
        ++i_;
        // A scalar at depth 0 ends at the next delimiter.
        if (depth == 0) {
          while (i_ < s_.size() && !std::strchr(",}] \t\r\n", s_[i_])) ++i_;
        }
      }
      if (depth > 0) ws();
    } while (depth > 0);
    return s_.substr(b, i_ - b);
  }

  /// Iterates an object; `f(key)` must consume the value.
  template <class F>
  void object(F&& f) {
    expect('{');
    if (peek() == '}') {
      ++i_;
      return;
    }
    std::string scratch;
    for (;;) {
      const std::string_view key = string(scratch);
      const std::string k(key);
      expect(':');
      f(std::string_view(k));
      const char c = peek();
      ++i_;
      if (c == '}') return;
      if (c != ',') fail("expected ',' or '}' in object");
    }
  }

  /// Iterates an array; `f()` must consume one element.
  template <class F>
  void array(F&& f) {
    expect('[');
    if (peek() == ']') {
      ++i_;
      return;
    }
    for (;;) {
      f();
      const char c = peek();
      ++i_;
      if (c == ']') return;
      if (c != ',') fail("expected ',' or ']' in array");
    }
  }

 private:
  char32_t hex4() {
    if (i_ + 4 > s_.size()) fail("truncated \\u escape");
    char32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<char32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<char32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<char32_t>(c - 'A' + 10);
      else
        fail("bad \\u escape");
    }
    return v;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string what_;
};

}  // namespace templlm::tokenizer::detail
