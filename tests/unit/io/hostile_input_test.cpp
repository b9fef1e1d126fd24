// SPDX-License-Identifier: Apache-2.0
// Bad input found after the first round of parser tests (issue 16): bytes hidden after a NUL
// that ends the header JSON, numbers beyond double, a header of 100k tensors (nlohmann's
// callback parser was quadratic in them), and FIFOs named like the files a model directory
// holds, which must be refused, not waited on.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <templlm/io/hf_config.hpp>
#include <templlm/io/mapped_file.hpp>
#include <templlm/io/safetensors.hpp>
#include <templlm/io/weight_store.hpp>

#include "expect_error.hpp"
#include "safetensors_writer.hpp"

namespace {

using templlm::FormatError;
using templlm::IoError;
using templlm::io::parse_safetensors;
using namespace templlm::test;

const std::string one_tensor = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";

TEST(SafetensorsHeader, BytesAfterANulAreRejected) {
  // nlohmann stops reading at a NUL; the reference reader (serde_json::from_str) does not, and
  // allows only whitespace after the JSON value.
  for (const std::string& tail : {std::string("\0", 1), std::string("\0garbage", 8),
                                 std::string("  \0{\"b\":1}", 10)}) {
    const std::string header = one_tensor + tail;
    expect_error<FormatError>(
        [&] { (void)parse_safetensors(raw_safetensors(header, pattern(2)), "nul.safetensors"); },
        {"nul.safetensors", "NUL byte at byte " + std::to_string(header.find('\0'))});
  }
  // Space padding, as the reference writer emits, stays valid; other trailing text does not.
  EXPECT_EQ(parse_safetensors(raw_safetensors(one_tensor + "      ", pattern(2)), "x").tensors.size(),
            1u);
  expect_error<FormatError>(
      [&] { (void)parse_safetensors(raw_safetensors(one_tensor + " x", pattern(2)), "t.st"); },
      {"t.st", "not valid JSON"});
}

TEST(SafetensorsHeader, NumberBeyondDoubleIsAFormatError) {
  const std::string header = R"({"a":{"dtype":"U8","shape":[1e400],"data_offsets":[0,2]}})";
  expect_error<FormatError>(
      [&] { (void)parse_safetensors(raw_safetensors(header, pattern(2)), "big.safetensors"); },
      {"big.safetensors", "1e400", "out of range"});
}

TEST(HfConfigHostile, NumberBeyondDoubleIsAFormatErrorNamingTheFile) {
  expect_error<FormatError>(
      [&] { (void)templlm::io::HfConfig::parse(R"({"rope_theta": -1e400})", "m/config.json"); },
      {"m/config.json", "-1e400", "out of range"});
  expect_error<FormatError>(
      [&] { (void)templlm::io::HfConfig::parse(std::string("{}\0{\"a\": 1}", 11), "m/config.json"); },
      {"m/config.json", "NUL byte at byte 2"});
}

TEST(SafetensorsHeader, HundredThousandTensorsParse) {
  // Quadratic before (nlohmann 3.11's callback parser rescans the top-level object after each
  // tensor: 40k tensors took 205 s); linear now. The ctest timeout catches a regression.
  constexpr std::size_t n = 100'000;
  std::string header = "{";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) header += ',';
    header += "\"model.layers." + std::to_string(i) + ".w\":{\"dtype\":\"U8\",\"shape\":[1]," +
              "\"data_offsets\":[" + std::to_string(i) + "," + std::to_string(i + 1) + "]}";
  }
  header += '}';
  const Bytes buf = raw_safetensors(header, pattern(n));
  const auto c = parse_safetensors(buf, "many.safetensors");
  ASSERT_EQ(c.tensors.size(), n);
  EXPECT_EQ(c.tensors[0].name, "model.layers.0.w");
  // Duplicates are still found among them.
  std::string dup = header;
  dup.insert(dup.size() - 1, R"(,"model.layers.7.w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]})");
  expect_error<FormatError>(
      [&] { (void)parse_safetensors(raw_safetensors(dup, pattern(n)), "many.safetensors"); },
      {"many.safetensors", "duplicate tensor name 'model.layers.7.w'"});
}

/// A FIFO at dir/name: opening it for reading without O_NONBLOCK waits for a writer forever.
void make_fifo(const std::filesystem::path& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0); }

TEST(FilesHostile, FifoIsRefusedNotWaitedOn) {
  TempDir dir;
  make_fifo(dir / "model.safetensors");
  expect_error<IoError>([&] { (void)templlm::io::MappedFile::open(dir / "model.safetensors"); },
                        {"model.safetensors", "expected a regular file, found a pipe"});
  expect_error<IoError>(
      [&] { (void)templlm::io::SafetensorsFile::open(dir / "model.safetensors"); },
      {"model.safetensors", "found a pipe"});
  make_fifo(dir / "config.json");
  expect_error<IoError>([&] { (void)templlm::io::HfConfig::load(dir.path()); },
                        {"config.json", "found a pipe"});
}

TEST(FilesHostile, EmptyJsonFilesAreFormatErrorsNamingTheFile) {
  // Found by fuzz_index: an empty file maps to a null pointer, which reached memchr (UB, reported
  // by UBSan). Each JSON file of a checkpoint, empty, is a FormatError naming it.
  TempDir dir;
  write_text(dir / "config.json", "");
  expect_error<FormatError>([&] { (void)templlm::io::HfConfig::load(dir.path()); }, {"config.json"});
  write_text(dir / "model.safetensors.index.json", "");
  expect_error<FormatError>([&] { (void)templlm::io::WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json"});
  EXPECT_THROW((void)templlm::io::detail::parse_json_strict(std::string_view(), "empty.json", "config", 8),
               FormatError);
}

}  // namespace
