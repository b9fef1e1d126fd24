// SPDX-License-Identifier: Apache-2.0
// The safetensors reader: a valid round trip, then one test per bad input of
// design/ecosystem.md B.1/B.2 (each checks the exception type and that the message names the
// file and the tensor or field), then random mutations that must only ever throw.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <templlm/io/mapped_file.hpp>
#include <templlm/io/safetensors.hpp>
#include <vector>

#include "expect_error.hpp"
#include "safetensors_writer.hpp"

namespace {

using templlm::DType;
using templlm::FormatError;
using templlm::IoError;
using templlm::Unsupported;
using templlm::io::MappedFile;
using templlm::io::parse_safetensors;
using templlm::io::SafetensorsFile;
using namespace templlm::test;

/// Writes `bytes` to bad.safetensors in a fresh directory and opens it.
class SafetensorsBad : public ::testing::Test {
 protected:
  void open(const Bytes& bytes) {
    write_file(path(), bytes);
    (void)SafetensorsFile::open(path());
  }
  /// A header given as JSON text with `data_size` bytes of data after it.
  void open_header(std::string_view header, std::size_t data_size = 0) {
    open(raw_safetensors(header, pattern(data_size)));
  }
  std::filesystem::path path() const { return dir_ / "bad.safetensors"; }

  TempDir dir_;
};

// ---- valid files ----------------------------------------------------------------------------

TEST(Safetensors, RoundTripGivesExactSpans) {
  const std::vector<StTensor> tensors = {
      {"b.weight", "F32", {2, 3}, pattern(24, 1)},
      {"a.bias", "BF16", {4}, pattern(8, 2)},
      {"c.scalar", "I64", {}, pattern(8, 3)},
      {"d.empty", "U8", {0, 5}, {}},
      {"e.fp8", "F8_E4M3", {3}, pattern(3, 4)},
  };
  const Bytes file = build_safetensors(tensors, {{"format", "pt"}});
  const std::uint64_t header_len = header_for(tensors, {{"format", "pt"}}).size();

  // In memory: the spans must point at exactly 8 + N + begin of the buffer.
  const auto c = parse_safetensors(file, "mem.safetensors");
  ASSERT_EQ(c.tensors.size(), 5u);
  EXPECT_EQ(c.metadata.at("format"), "pt");
  EXPECT_EQ(c.tensors[0].name, "a.bias");  // sorted by name
  std::size_t at = 8 + header_len;
  for (const StTensor& want : tensors) {
    const auto it = std::find_if(c.tensors.begin(), c.tensors.end(),
                                 [&](const auto& t) { return t.name == want.name; });
    ASSERT_NE(it, c.tensors.end()) << want.name;
    EXPECT_EQ(it->bytes.data(), file.data() + at) << want.name;
    EXPECT_EQ(it->bytes.size(), want.data.size()) << want.name;
    EXPECT_EQ(it->shape, want.shape);
    EXPECT_EQ(it->file, "mem.safetensors");
    at += want.data.size();
  }

  // From a file: same content, through the mapping.
  TempDir dir;
  write_file(dir / "model.safetensors", file);
  const auto st = SafetensorsFile::open(dir / "model.safetensors");
  const templlm::io::TensorInfo* w = st.find("b.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::f32);
  EXPECT_EQ(w->numel(), 6);
  EXPECT_TRUE(w->aligned());
  const Bytes want = pattern(24, 1);
  ASSERT_EQ(w->bytes.size(), want.size());
  EXPECT_EQ(std::memcmp(w->bytes.data(), want.data(), want.size()), 0);
  EXPECT_EQ(st.find("c.scalar")->numel(), 1);
  EXPECT_EQ(st.find("d.empty")->numel(), 0);
  EXPECT_TRUE(st.find("d.empty")->bytes.empty());
  EXPECT_EQ(st.find("e.fp8")->dtype, DType::f8_e4m3);
  EXPECT_EQ(st.find("missing"), nullptr);
  EXPECT_EQ(st.file_size(), file.size());
}

TEST(Safetensors, EmptyHeaderObjectIsValid) {
  const auto c = parse_safetensors(raw_safetensors("{}"), "x");
  EXPECT_TRUE(c.tensors.empty());
}

TEST(Safetensors, LeadingAndTrailingWhitespaceIsAccepted) {
  const std::string header =
      "\t\n {\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}\r   ";
  const auto c = parse_safetensors(raw_safetensors(header, pattern(2)), "x");
  ASSERT_EQ(c.tensors.size(), 1u);
}

TEST(Safetensors, OffsetsOutOfNameOrderAreSortedFirst) {
  const std::string header = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[3,5]},)"
                             R"("b":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})";
  const Bytes buf = raw_safetensors(header, pattern(5));
  const auto c = parse_safetensors(buf, "x");
  EXPECT_EQ(c.tensors[0].bytes.data(), buf.data() + 8 + header.size() + 3);
}

TEST(Safetensors, SeveralZeroSizeTensorsMayShareAnOffset) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                             R"("b":{"dtype":"F16","shape":[0,3],"data_offsets":[0,0]},)"
                             R"("c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  EXPECT_EQ(parse_safetensors(raw_safetensors(header, pattern(1)), "x").tensors.size(), 3u);
}

TEST(Safetensors, AlignedReflectsThePointer) {
  // An unpadded 1-byte-off header puts F32 data at an odd address (MLX-written files).
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  if ((8 + header.size()) % 2 == 0) header += ' ';
  const Bytes buf = raw_safetensors(header, pattern(4));
  const auto c = parse_safetensors(buf, "x");
  EXPECT_FALSE(c.tensors[0].aligned());
}

// ---- the length prefix ----------------------------------------------------------------------

TEST_F(SafetensorsBad, EmptyFile) {
  expect_error<FormatError>([&] { open({}); }, {"bad.safetensors", "0 bytes", "8-byte"});
}

TEST_F(SafetensorsBad, SevenBytes) {
  expect_error<FormatError>([&] { open(pattern(7)); }, {"bad.safetensors", "7 bytes"});
}

TEST_F(SafetensorsBad, HeaderLengthLargerThanFile) {
  expect_error<FormatError>([&] { open(raw_safetensors("{}", {}, 1000)); },
                            {"bad.safetensors", "header length 1000", "only 2 bytes"});
}

TEST_F(SafetensorsBad, HeaderLengthOver100MB) {
  expect_error<FormatError>([&] { open(raw_safetensors("{}", {}, 100'000'001)); },
                            {"bad.safetensors", "100000001", "limit of 100000000"});
}

TEST_F(SafetensorsBad, HeaderLengthMaxU64) {
  expect_error<FormatError>([&] { open(raw_safetensors("{}", {}, ~std::uint64_t{0} - 1)); },
                            {"bad.safetensors", "18446744073709551614"});
}

TEST_F(SafetensorsBad, HeaderLengthZero) {
  expect_error<FormatError>([&] { open(raw_safetensors("", pattern(4))); },
                            {"bad.safetensors", "not valid JSON"});
}

// ---- the header JSON ------------------------------------------------------------------------

TEST_F(SafetensorsBad, HeaderNotJson) {
  expect_error<FormatError>([&] { open_header("{"); },
                            {"bad.safetensors", "not valid JSON", "at byte"});
}

TEST_F(SafetensorsBad, HeaderNotUtf8) {
  expect_error<FormatError>([&] { open_header("{\"\xff\xfe\":1}"); },
                            {"bad.safetensors", "not valid JSON"});
}

TEST_F(SafetensorsBad, HeaderNotObject) {
  expect_error<FormatError>([&] { open_header("[1, 2]"); },
                            {"bad.safetensors", "JSON array", "expected an object"});
}

TEST_F(SafetensorsBad, DuplicateTensorName) {
  expect_error<FormatError>(
      [&] {
        open_header(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                    R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                    2);
      },
      {"bad.safetensors", "duplicate tensor name 'w'"});
}

TEST_F(SafetensorsBad, DuplicateKeyInsideEntry) {
  expect_error<FormatError>(
      [&] {
        open_header(R"({"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}})", 1);
      },
      {"bad.safetensors", "duplicate key 'dtype'", "'w'"});
}

TEST_F(SafetensorsBad, DuplicateMetadata) {
  expect_error<FormatError>(
      [&] { open_header(R"({"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}})"); },
      {"bad.safetensors", "__metadata__"});
}

TEST_F(SafetensorsBad, MetadataNotObject) {
  expect_error<FormatError>([&] { open_header(R"({"__metadata__":["pt"]})"); },
                            {"bad.safetensors", "__metadata__", "array"});
}

TEST_F(SafetensorsBad, MetadataValueNotString) {
  expect_error<FormatError>([&] { open_header(R"({"__metadata__":{"format":{"x":1}}})"); },
                            {"bad.safetensors", "__metadata__ key 'format'", "expected a string"});
}

TEST_F(SafetensorsBad, NestingTooDeep) {
  const std::string deep = std::string(50, '[') + std::string(50, ']');
  expect_error<FormatError>([&] { open_header(R"({"w":{"extra":)" + deep + "}}"); },
                            {"bad.safetensors", "nests deeper"});
}

// ---- tensor entries -------------------------------------------------------------------------

TEST_F(SafetensorsBad, EntryNotObject) {
  expect_error<FormatError>([&] { open_header(R"({"w":[0,1]})"); },
                            {"bad.safetensors", "tensor 'w'", "expected an object"});
}

TEST_F(SafetensorsBad, MissingDtype) {
  expect_error<FormatError>([&] { open_header(R"({"w":{"shape":[1],"data_offsets":[0,1]}})", 1); },
                            {"bad.safetensors", "tensor 'w'", "missing \"dtype\""});
}

TEST_F(SafetensorsBad, MissingShape) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "missing \"shape\""});
}

TEST_F(SafetensorsBad, MissingDataOffsets) {
  expect_error<FormatError>([&] { open_header(R"({"w":{"dtype":"U8","shape":[1]}})", 1); },
                            {"bad.safetensors", "tensor 'w'", "missing \"data_offsets\""});
}

TEST_F(SafetensorsBad, DtypeNotString) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "\"dtype\" is a JSON number", "expected a string"});
}

TEST_F(SafetensorsBad, ShapeNotArray) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":"1","data_offsets":[0,1]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "\"shape\" is a JSON string"});
}

TEST_F(SafetensorsBad, DataOffsetsNotArray) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":{"a":0}}})", 1); },
      {"bad.safetensors", "tensor 'w'", "\"data_offsets\" is a JSON object"});
}

TEST_F(SafetensorsBad, NegativeDim) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":[2,-1],"data_offsets":[0,0]}})"); },
      {"bad.safetensors", "tensor 'w'", "shape[1] is negative (-1)"});
}

TEST_F(SafetensorsBad, FloatDim) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "shape[0] is 1.5", "non-negative integer"});
}

TEST_F(SafetensorsBad, DimAbove2To63) {
  expect_error<FormatError>(
      [&] {
        open_header(R"({"w":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,1]}})",
                    1);
      },
      {"bad.safetensors", "tensor 'w'", "shape[0] = 9223372036854775808"});
}

TEST_F(SafetensorsBad, RankAboveLimit) {
  expect_error<FormatError>(
      [&] {
        open_header(R"({"w":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})",
                    1);
      },
      {"bad.safetensors", "tensor 'w'", "rank 9"});
}

TEST_F(SafetensorsBad, NameTooLong) {
  const std::string name(5000, 'n');
  expect_error<FormatError>(
      [&] {
        open_header(R"({")" + name + R"(":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1);
      },
      {"bad.safetensors", "5000 bytes"});
}

TEST_F(SafetensorsBad, UnknownDtype) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "unknown dtype 'Q7'", "BF16"});
}

TEST_F(SafetensorsBad, LowercaseDtypeIsUnknown) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"bf16","shape":[1],"data_offsets":[0,2]}})", 2); },
      {"bad.safetensors", "tensor 'w'", "unknown dtype 'bf16'"});
}

TEST_F(SafetensorsBad, FormatDtypeTempllmLacksIsUnsupported) {
  expect_error<Unsupported>(
      [&] { open_header(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "'F4'"});
}

// ---- offsets --------------------------------------------------------------------------------

TEST_F(SafetensorsBad, DataOffsetsWrongLength) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", 2); },
      {"bad.safetensors", "tensor 'w'", "3 elements"});
}

TEST_F(SafetensorsBad, NegativeOffset) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", 1); },
      {"bad.safetensors", "tensor 'w'", "data_offsets[0] is negative"});
}

TEST_F(SafetensorsBad, BeginAfterEnd) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}})", 2); },
      {"bad.safetensors", "tensor 'w'", "[2, 1]", "begin > end"});
}

TEST_F(SafetensorsBad, EndPastDataArea) {
  // Also the "file truncated" case: the header promises more bytes than follow it.
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 14); },
      {"bad.safetensors", "tensor 'w'", "[0, 16]", "past the data area", "14 bytes"});
}

TEST_F(SafetensorsBad, OverlappingOffsets) {
  expect_error<FormatError>(
      [&] {
        open_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    12);
      },
      {"bad.safetensors", "'a' [0, 8)", "'b' [4, 12)", "overlap"});
}

TEST_F(SafetensorsBad, ManyTensorsAliasingOneRange) {
  // The reference's test_json_attack: a DoS through aliasing, now rejected.
  std::string header = "{";
  for (int i = 0; i < 10; ++i)
    header += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
              R"(":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  header += "}";
  expect_error<FormatError>([&] { open_header(header, 8); }, {"bad.safetensors", "overlap"});
}

TEST_F(SafetensorsBad, GapBetweenTensors) {
  expect_error<FormatError>(
      [&] {
        open_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                    20);
      },
      {"bad.safetensors", "bytes [8, 12)", "'b' [12, 20)"});
}

TEST_F(SafetensorsBad, FirstTensorNotAtZero) {
  expect_error<FormatError>(
      [&] { open_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12); },
      {"bad.safetensors", "bytes [0, 4)", "'a'"});
}

TEST_F(SafetensorsBad, TrailingBytesAfterLastTensor) {
  // A polyglot file: valid safetensors plus something appended.
  Bytes b = build_safetensors({{"w", "U8", {4}, pattern(4)}});
  b.push_back(std::byte{0x42});
  expect_error<FormatError>([&] { open(b); }, {"bad.safetensors", "cover 4 bytes", "has 5"});
}

TEST_F(SafetensorsBad, ShapeTimesDtypeNotSpan) {
  expect_error<FormatError>(
      [&] { open_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8); },
      {"bad.safetensors", "tensor 'w'", "[3] of F32 needs 12 bytes", "span 8"});
}

TEST_F(SafetensorsBad, ShapeProductOverflow) {
  expect_error<FormatError>(
      [&] {
        open_header(
            R"({"w":{"dtype":"U8","shape":[2,9223372036854775807],"data_offsets":[0,2]}})", 2);
      },
      {"bad.safetensors", "tensor 'w'", "overflows"});
  expect_error<FormatError>(
      [&] {
        open_header(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,2]}})",
                    2);
      },
      {"bad.safetensors", "tensor 'w'", "overflows"});
}

TEST_F(SafetensorsBad, ShapeTimesDtypeSizeOverflow) {
  // 2^61 elements fit; times 8 bytes does not.
  expect_error<FormatError>(
      [&] {
        open_header(R"({"w":{"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,8]}})",
                    8);
      },
      {"bad.safetensors", "tensor 'w'", "I64 overflows"});
}

// ---- file access ----------------------------------------------------------------------------

TEST(Safetensors, MissingFileIsIoError) {
  TempDir dir;
  expect_error<IoError>([&] { (void)SafetensorsFile::open(dir / "nope.safetensors"); },
                        {"nope.safetensors", "No such file"});
}

TEST(MappedFile, DirectoryIsIoError) {
  TempDir dir;
  expect_error<IoError>([&] { (void)MappedFile::open(dir.path()); },
                        {dir.path().string(), "directory"});
}

TEST(MappedFile, EmptyFileMapsToEmptySpan) {
  TempDir dir;
  write_file(dir / "empty", {});
  const MappedFile f = MappedFile::open(dir / "empty");
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(f.bytes().empty());
}

TEST(MappedFile, MoveKeepsTheMapping) {
  TempDir dir;
  write_file(dir / "f", pattern(100));
  MappedFile a = MappedFile::open(dir / "f");
  const std::byte* p = a.bytes().data();
  MappedFile b = std::move(a);
  EXPECT_EQ(b.bytes().data(), p);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_TRUE(a.bytes().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  MappedFile c;
  c = std::move(b);
  EXPECT_EQ(c.bytes()[99], pattern(100)[99]);
  EXPECT_EQ(c.path(), dir / "f");
}

// ---- robustness -----------------------------------------------------------------------------

TEST(Safetensors, RandomMutationsOnlyThrowTempllmErrors) {
  const Bytes valid = build_safetensors({{"a", "F32", {2, 2}, pattern(16)},
                                         {"b", "BF16", {3}, pattern(6)},
                                         {"c", "I8", {0}, {}}},
                                        {{"format", "pt"}});
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    Bytes b = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0: b[rng() % b.size()] = static_cast<std::byte>(rng()); break;  // flip a byte
        case 1: b.resize(rng() % b.size()); break;                           // truncate
        case 2: b.insert(b.begin() + static_cast<long>(rng() % b.size()),
                         static_cast<std::byte>("0123456789,[]{}\"-"[rng() % 17]));
                break;
        default: b.push_back(static_cast<std::byte>(rng())); break;
      }
      if (b.empty()) break;
    }
    try {
      const auto c = parse_safetensors(b, "fuzz");
      for (const auto& t : c.tensors) {  // any accepted span lies inside the buffer
        ASSERT_GE(t.bytes.data(), b.data());
        ASSERT_LE(t.bytes.data() + t.bytes.size(), b.data() + b.size());
      }
    } catch (const templlm::Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 3000);
}

}  // namespace
