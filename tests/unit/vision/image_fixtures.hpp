// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/vision/image_fixtures.hpp
/// The files of tools/make_image_fixtures.py: tests/data/images/<name> and, under expected/,
/// uint8 arrays as '|u1' .npy (io/npy.hpp reads only '<f4'; uint8 at a quarter of the size keeps
/// the fixtures under 1 MB) and float32 ones through io::read_npy_f32.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <templlm/core/error.hpp>
#include <templlm/io/mapped_file.hpp>
#include <templlm/io/npy.hpp>
#include <vector>

namespace templlm::test {

/// Whether this build decodes images (the CMake target defines TEMPLLM_HAVE_IMAGES when libpng
/// and libjpeg were found); the decoding tests skip without it.
#if defined(TEMPLLM_HAVE_IMAGES)
inline constexpr bool kHaveImages = true;
#else
inline constexpr bool kHaveImages = false;
#endif

inline std::filesystem::path images_dir() {
  return std::filesystem::path(TEMPLLM_TEST_DATA_DIR) / "images";
}
inline std::filesystem::path expected_dir() { return images_dir() / "expected"; }

/// A uint8 C-order array from a '|u1' .npy (format 1.x), shape and bytes.
struct NpyU8 {
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;
};

inline NpyU8 read_npy_u8(const std::filesystem::path& path) {
  const std::string file = path.string();
  const io::MappedFile mapped = io::MappedFile::open(path);
  const auto b = mapped.bytes();
  const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
  if (b.size() < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0 || p[6] != 1)
    throw FormatError(file + ": not a version 1 .npy file");
  const std::size_t header_len = p[8] | (std::size_t{p[9]} << 8);
  if (header_len > b.size() - 10) throw FormatError(file + ": header runs past the file");
  io::detail::NpyHeaderParser header(
      std::string_view(reinterpret_cast<const char*>(p + 10), header_len), file);
  header.parse();
  if (header.descr != "|u1" || header.fortran_order)
    throw FormatError(file + ": dtype '" + header.descr + "', expected C-order '|u1'");
  std::size_t numel = 1;
  for (std::int64_t d : header.shape) numel *= static_cast<std::size_t>(d);
  if (numel != b.size() - 10 - header_len)
    throw FormatError(file + ": shape needs " + std::to_string(numel) + " bytes, the file has " +
                      std::to_string(b.size() - 10 - header_len));
  NpyU8 out;
  out.shape = header.shape;
  out.data.assign(p + 10 + header_len, p + b.size());
  return out;
}

/// Max abs difference and count of differing elements of two equally long uint8 arrays.
struct Diff {
  int max_abs = 0;
  std::size_t differing = 0;
};

template <class A, class B>
Diff diff(const A& a, const B& b) {
  Diff d;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const int e = std::abs(int(a[i]) - int(b[i]));
    if (e) ++d.differing;
    if (e > d.max_abs) d.max_abs = e;
  }
  return d;
}

}  // namespace templlm::test
