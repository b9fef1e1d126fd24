// SPDX-License-Identifier: Apache-2.0
/// \file io/npy.hpp
/// Minimal NumPy .npy reading and writing for float32 arrays: golden activations and logits
/// exchanged with the PyTorch reference scripts. Only '<f4', C order, format versions 1.0 and
/// 2.0. Depends on core/ only; host-only.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "mapped_file.hpp"

namespace templlm::io {

/// A float32 array read from .npy; `data` is row-major with `shape`.
struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

/// Writes a (rows, cols) float32 C-order array as .npy v1.0. Throws IoError on failure.
inline void write_npy_f32(const std::filesystem::path& path, const float* data, std::size_t rows,
                          std::size_t cols) {
  static_assert(std::endian::native == std::endian::little, "npy '<f4' assumes little-endian");
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                     std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  // numpy pads the header with spaces and a newline so the data starts 64-byte aligned.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  const auto header_len = static_cast<std::uint16_t>(dict.size());

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(path.string() + ": cannot open for writing");
  const char preamble[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             static_cast<char>(header_len & 0xff),
                             static_cast<char>(header_len >> 8)};
  out.write(preamble, sizeof preamble);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(reinterpret_cast<const char*>(data),
            static_cast<std::streamsize>(rows * cols * sizeof(float)));
  out.close();
  if (!out) throw IoError(path.string() + ": write failed");
}

namespace detail {

/// Parses the Python dict literal of a .npy header: {'descr': ..., 'fortran_order': ...,
/// 'shape': (...)}. Anything else is a FormatError naming `file`.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;

  void parse() {
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (eat('}')) break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        skip_ws();
        descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        skip_ws();
        if (eat_word("True")) fortran_order = true;
        else if (eat_word("False")) fortran_order = false;
        else fail("'fortran_order' is not True or False");
        has_order = true;
      } else if (key == "shape") {
        parse_shape();
        has_shape = true;
      } else {
        fail("unexpected header key '" + key + "'");
      }
      skip_ws();
      if (eat(',')) continue;
      expect('}');
      break;
    }
    skip_ws();
    if (i_ != s_.size()) fail("trailing characters after the header dict");
    if (!has_descr || !has_order || !has_shape)
      fail("header lacks one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw FormatError(file_ + ": malformed .npy header: " + msg);
  }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
  }
  bool eat(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  void expect(char c) {
    skip_ws();
    if (!eat(c)) fail(std::string("expected '") + c + "' at offset " + std::to_string(i_));
  }
  bool eat_word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::string quoted() {
    skip_ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"'))
      fail("expected a quoted string at offset " + std::to_string(i_));
    const char q = s_[i_++];
    const std::size_t end = s_.find(q, i_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_, end - i_));
    i_ = end + 1;
    return out;
  }
  void parse_shape() {
    expect('(');
    while (true) {
      skip_ws();
      if (eat(')')) return;
      if (shape.size() >= 32) fail("rank over 32");
      std::uint64_t v = 0;
      const std::size_t start = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (__builtin_mul_overflow(v, std::uint64_t{10}, &v) ||
            __builtin_add_overflow(v, std::uint64_t(s_[i_] - '0'), &v) ||
            v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          fail("shape entry overflows");
        ++i_;
      }
      if (i_ == start) fail("expected a non-negative integer in 'shape' at offset " +
                            std::to_string(i_));
      shape.push_back(static_cast<std::int64_t>(v));
      skip_ws();
      if (eat(',')) continue;
      expect(')');
      return;
    }
  }

  std::string_view s_;
  const std::string& file_;
  std::size_t i_ = 0;
};

}  // namespace detail

/// Reads a float32 .npy file. IoError if unreadable; FormatError naming the file for a bad magic,
/// a version other than 1.x/2.x, a dtype other than '<f4', Fortran order, or a size mismatch.
inline NpyArray read_npy_f32(const std::filesystem::path& path) {
  static_assert(std::endian::native == std::endian::little, "npy '<f4' assumes little-endian");
  const std::string file = path.string();
  const auto fail = [&](const std::string& msg) { return FormatError(file + ": " + msg); };
  const MappedFile mapped = MappedFile::open(path);
  const std::span<const std::byte> b = mapped.bytes();
  const auto u8 = [&](std::size_t i) { return static_cast<std::uint8_t>(b[i]); };

  if (b.size() < 10) throw fail("file is " + std::to_string(b.size()) + " bytes, not a .npy file");
  if (std::memcmp(b.data(), "\x93NUMPY", 6) != 0) throw fail("not a .npy file (bad magic)");
  const unsigned major = u8(6), minor = u8(7);
  std::size_t header_start = 0, header_len = 0;
  if (major == 1) {
    header_start = 10;
    header_len = u8(8) | (std::size_t{u8(9)} << 8);
  } else if (major == 2) {
    if (b.size() < 12) throw fail("truncated .npy v2 preamble");
    header_start = 12;
    header_len = u8(8) | (std::size_t{u8(9)} << 8) | (std::size_t{u8(10)} << 16) |
                 (std::size_t{u8(11)} << 24);
  } else {
    throw fail(".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
               " is not supported (expected 1.0 or 2.0)");
  }
  if (header_len > b.size() - header_start)
    throw fail("header length " + std::to_string(header_len) + " exceeds the file size " +
               std::to_string(b.size()));

  detail::NpyHeaderParser header(
      std::string_view(reinterpret_cast<const char*>(b.data() + header_start), header_len), file);
  header.parse();
  if (header.descr != "<f4")
    throw fail("dtype '" + header.descr + "', expected '<f4' (little-endian float32)");
  if (header.fortran_order) throw fail("Fortran-order array, expected C order");

  std::uint64_t numel = 1, nbytes = 0;
  for (std::int64_t d : header.shape)
    if (__builtin_mul_overflow(numel, static_cast<std::uint64_t>(d), &numel))
      throw fail("shape overflows");
  if (__builtin_mul_overflow(numel, std::uint64_t{4}, &nbytes)) throw fail("shape overflows");
  const std::size_t data_start = header_start + header_len;
  if (nbytes != b.size() - data_start)
    throw fail("shape needs " + std::to_string(nbytes) + " data bytes, the file has " +
               std::to_string(b.size() - data_start));

  NpyArray out;
  out.shape = std::move(header.shape);
  out.data.resize(numel);
  if (nbytes > 0) std::memcpy(out.data.data(), b.data() + data_start, nbytes);
  return out;
}

}  // namespace templlm::io
