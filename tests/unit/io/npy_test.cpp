// SPDX-License-Identifier: Apache-2.0
// .npy float32 reading and writing: round trip, v2.0 headers, and every rejected variant
// (magic, version, dtype, Fortran order, size mismatch, malformed dict).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <templlm/io/npy.hpp>
#include <vector>

#include "expect_error.hpp"
#include "safetensors_writer.hpp"

namespace {

using templlm::FormatError;
using templlm::IoError;
using templlm::io::read_npy_f32;
using templlm::io::write_npy_f32;
using namespace templlm::test;

/// A .npy file with header dict `dict` (unpadded), format `major`.0, and `data` after it.
Bytes npy_bytes(const std::string& dict, const std::vector<float>& data, int major = 1) {
  std::string h = dict + "\n";
  Bytes out = to_bytes("\x93NUMPY");
  out.push_back(static_cast<std::byte>(major));
  out.push_back(std::byte{0});
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i)
    out.push_back(static_cast<std::byte>((h.size() >> (8 * i)) & 0xff));
  const Bytes hb = to_bytes(h);
  out.insert(out.end(), hb.begin(), hb.end());
  const auto* p = reinterpret_cast<const std::byte*>(data.data());
  out.insert(out.end(), p, p + data.size() * sizeof(float));
  return out;
}

class NpyBad : public ::testing::Test {
 protected:
  void read(const Bytes& b) {
    write_file(path(), b);
    (void)read_npy_f32(path());
  }
  std::filesystem::path path() const { return dir_ / "bad.npy"; }
  TempDir dir_;
};

TEST(Npy, RoundTrip) {
  TempDir dir;
  std::vector<float> v(15);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i) - 3.0f;
  write_npy_f32(dir / "a.npy", v.data(), 3, 5);
  const auto a = read_npy_f32(dir / "a.npy");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(a.data, v);
  // numpy's layout: the data starts 64-byte aligned.
  EXPECT_EQ((std::filesystem::file_size(dir / "a.npy") - v.size() * 4) % 64, 0u);
}

TEST(Npy, RoundTripEmpty) {
  TempDir dir;
  write_npy_f32(dir / "e.npy", nullptr, 0, 4);
  const auto a = read_npy_f32(dir / "e.npy");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{0, 4}));
  EXPECT_TRUE(a.data.empty());
}

TEST(Npy, ReadsVersion2AndOtherRanks) {
  TempDir dir;
  write_file(dir / "v2.npy",
             npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2), }",
                       {1, 2, 3, 4}, 2));
  const auto a = read_npy_f32(dir / "v2.npy");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 1, 2}));
  EXPECT_EQ(a.data, (std::vector<float>{1, 2, 3, 4}));

  write_file(dir / "v1.npy",
             npy_bytes(R"({"shape": (3,), "fortran_order": False, "descr": "<f4"})", {7, 8, 9}));
  EXPECT_EQ(read_npy_f32(dir / "v1.npy").shape, (std::vector<std::int64_t>{3}));

  write_file(dir / "s.npy",
             npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", {5}));
  const auto s = read_npy_f32(dir / "s.npy");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, (std::vector<float>{5}));
}

TEST(Npy, MissingFile) {
  TempDir dir;
  expect_error<IoError>([&] { (void)read_npy_f32(dir / "nope.npy"); }, {"nope.npy"});
}

TEST_F(NpyBad, TooShort) {
  expect_error<FormatError>([&] { read(to_bytes("\x93NUM")); }, {"bad.npy", "4 bytes"});
}

TEST_F(NpyBad, BadMagic) {
  Bytes b = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", {1});
  b[1] = std::byte{'X'};
  expect_error<FormatError>([&] { read(b); }, {"bad.npy", "bad magic"});
}

TEST_F(NpyBad, Version3) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", {1}, 3)); },
      {"bad.npy", "version 3.0", "1.0 or 2.0"});
}

TEST_F(NpyBad, Float64) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", {1, 1})); },
      {"bad.npy", "dtype '<f8'", "expected '<f4'"});
}

TEST_F(NpyBad, BigEndian) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", {1})); },
      {"bad.npy", "dtype '>f4'"});
}

TEST_F(NpyBad, FortranOrder) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", {1})); },
      {"bad.npy", "Fortran"});
}

TEST_F(NpyBad, DataSizeMismatch) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", {1})); },
      {"bad.npy", "needs 16 data bytes", "has 4"});
}

TEST_F(NpyBad, HeaderLengthBeyondFile) {
  Bytes b = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", {1});
  b[8] = std::byte{0xff};
  b[9] = std::byte{0xff};
  expect_error<FormatError>([&] { read(b); }, {"bad.npy", "header length 65535"});
}

TEST_F(NpyBad, MissingShapeKey) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '<f4', 'fortran_order': False}", {})); },
      {"bad.npy", "'shape'"});
}

TEST_F(NpyBad, NegativeShape) {
  expect_error<FormatError>(
      [&] { read(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", {})); },
      {"bad.npy", "non-negative integer in 'shape'"});
}

TEST_F(NpyBad, ShapeOverflow) {
  expect_error<FormatError>(
      [&] {
        read(npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", {}));
      },
      {"bad.npy", "overflows"});
}

TEST_F(NpyBad, UnknownKey) {
  expect_error<FormatError>(
      [&] {
        read(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", {1}));
      },
      {"bad.npy", "unexpected header key 'x'"});
}

}  // namespace
