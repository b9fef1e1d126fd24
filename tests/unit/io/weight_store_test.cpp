// SPDX-License-Identifier: Apache-2.0
// WeightStore over single-file and sharded checkpoint directories: lookups, expectations, and
// the index/shard consistency errors (missing shard, tensor in the wrong or in two shards).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <templlm/io/weight_store.hpp>
#include <utility>
#include <vector>

#include "expect_error.hpp"
#include "safetensors_writer.hpp"

namespace {

using templlm::DType;
using templlm::FormatError;
using templlm::IoError;
using templlm::TensorMismatch;
using templlm::io::WeightStore;
using namespace templlm::test;

const std::vector<StTensor> shard1 = {
    {"model.embed_tokens.weight", "BF16", {8, 4}, pattern(64, 1)},
    {"model.layers.0.mlp.gate_proj.weight", "BF16", {6, 4}, pattern(48, 2)},
};
const std::vector<StTensor> shard2 = {
    {"model.layers.0.mlp.up_proj.weight", "BF16", {6, 4}, pattern(48, 3)},
    {"model.norm.weight", "F32", {4}, pattern(16, 4)},
};

/// A sharded checkpoint: two shards and an index mapping each tensor to its shard.
void write_sharded(const TempDir& dir) {
  write_file(dir / "model-00001-of-00002.safetensors", build_safetensors(shard1));
  write_file(dir / "model-00002-of-00002.safetensors", build_safetensors(shard2));
  write_text(dir / "model.safetensors.index.json", R"({
    "metadata": {"total_size": 176},
    "weight_map": {
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.mlp.gate_proj.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors"
    }
  })");
}

/// An index over the two shards with `weight_map` replaced by `map_json`.
void write_index(const TempDir& dir, const std::string& map_json) {
  write_file(dir / "model-00001-of-00002.safetensors", build_safetensors(shard1));
  write_file(dir / "model-00002-of-00002.safetensors", build_safetensors(shard2));
  write_text(dir / "model.safetensors.index.json", R"({"weight_map": )" + map_json + "}");
}

// ---- valid checkpoints ----------------------------------------------------------------------

TEST(WeightStore, SingleFile) {
  TempDir dir;
  write_file(dir / "model.safetensors",
             build_safetensors({{"b", "F32", {2, 2}, pattern(16)},
                                {"a", "BF16", {3}, pattern(6)}}));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  const auto record = [&](std::uint64_t done, std::uint64_t total) {
    calls.push_back({done, total});
  };
  const WeightStore ws = WeightStore::open(dir.path(), record);
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ws.size(), 2u);
  EXPECT_EQ(ws.total_bytes(), 22u);
  EXPECT_EQ(ws.bytes_by_dtype(),
            (std::map<DType, std::uint64_t>{{DType::f32, 16}, {DType::bf16, 6}}));
  EXPECT_EQ(ws.dir(), dir.path());
  EXPECT_EQ(ws.get("b").file, (dir / "model.safetensors").string());
  EXPECT_EQ(ws.find("c"), nullptr);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, calls[0].second);
  EXPECT_EQ(calls[0].second, std::filesystem::file_size(dir / "model.safetensors"));
}

TEST(WeightStore, ShardedDirectory) {
  TempDir dir;
  write_sharded(dir);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  const auto record = [&](std::uint64_t done, std::uint64_t total) {
    calls.push_back({done, total});
  };
  const WeightStore ws = WeightStore::open(dir.path(), record);
  EXPECT_EQ(ws.names(), (std::vector<std::string>{
                            "model.embed_tokens.weight", "model.layers.0.mlp.gate_proj.weight",
                            "model.layers.0.mlp.up_proj.weight", "model.norm.weight"}));
  EXPECT_EQ(ws.shards().size(), 2u);
  EXPECT_EQ(ws.total_bytes(), 176u);
  EXPECT_EQ(ws.bytes_by_dtype().at(DType::bf16), 160u);
  const auto& up = ws.expect("model.layers.0.mlp.up_proj.weight", DType::bf16, {6, 4});
  EXPECT_EQ(up.file, (dir / "model-00002-of-00002.safetensors").string());
  const Bytes want = pattern(48, 3);
  ASSERT_EQ(up.bytes.size(), want.size());
  EXPECT_TRUE(std::equal(up.bytes.begin(), up.bytes.end(), want.begin()));

  ASSERT_EQ(calls.size(), 2u);
  EXPECT_LT(calls[0].first, calls[1].first);
  EXPECT_EQ(calls[1].first, calls[1].second);
}

TEST(WeightStore, IndexWinsOverSingleFile) {
  TempDir dir;
  write_sharded(dir);
  write_file(dir / "model.safetensors", build_safetensors({{"other", "U8", {1}, pattern(1)}}));
  EXPECT_EQ(WeightStore::open(dir.path()).find("other"), nullptr);
}

TEST(WeightStore, ReferencesSurviveAMove) {
  TempDir dir;
  write_sharded(dir);
  WeightStore a = WeightStore::open(dir.path());
  const auto* norm = &a.get("model.norm.weight");
  const WeightStore b = std::move(a);
  EXPECT_EQ(&b.get("model.norm.weight"), norm);
  EXPECT_EQ(b.get("model.norm.weight").bytes.size(), 16u);
}

TEST(WeightStore, ExpectAcceptsASpan) {
  TempDir dir;
  write_sharded(dir);
  const WeightStore ws = WeightStore::open(dir.path());
  const std::array<std::int64_t, 1> shape = {4};
  EXPECT_EQ(ws.expect("model.norm.weight", DType::f32, shape).numel(), 4);
}

// ---- lookups --------------------------------------------------------------------------------

TEST(WeightStore, MissingTensorSuggestsCloseNames) {
  TempDir dir;
  write_sharded(dir);
  const WeightStore ws = WeightStore::open(dir.path());
  expect_error<TensorMismatch>(
      [&] { (void)ws.get("model.layers.0.mlp.gate.weight"); },
      {"tensor 'model.layers.0.mlp.gate.weight' is missing from " + dir.path().string(),
       "did you mean 'model.layers.0.mlp.gate_proj.weight'"});
}

TEST(WeightStore, MissingTensorWithoutCloseNames) {
  TempDir dir;
  write_sharded(dir);
  const WeightStore ws = WeightStore::open(dir.path());
  try {
    (void)ws.get("lm_head.weight");
    FAIL() << "no exception";
  } catch (const TensorMismatch& e) {
    EXPECT_EQ(std::string(e.what()),
              "tensor 'lm_head.weight' is missing from " + dir.path().string());
  }
}

TEST(WeightStore, ExpectMissingTensor) {
  TempDir dir;
  write_sharded(dir);
  const WeightStore ws = WeightStore::open(dir.path());
  expect_error<TensorMismatch>([&] { (void)ws.expect("lm_head.weight", DType::bf16, {8, 4}); },
                               {"'lm_head.weight'", "missing"});
}

TEST(WeightStore, ExpectWrongShape) {
  TempDir dir;
  write_sharded(dir);
  const WeightStore ws = WeightStore::open(dir.path());
  expect_error<TensorMismatch>(
      [&] { (void)ws.expect("model.embed_tokens.weight", DType::bf16, {4, 8}); },
      {"model-00001-of-00002.safetensors", "tensor 'model.embed_tokens.weight'",
       "expected BF16 [4, 8], found BF16 [8, 4]"});
}

TEST(WeightStore, ExpectWrongDtype) {
  TempDir dir;
  write_sharded(dir);
  const WeightStore ws = WeightStore::open(dir.path());
  expect_error<TensorMismatch>([&] { (void)ws.expect("model.norm.weight", DType::bf16, {4}); },
                               {"model-00002-of-00002.safetensors", "tensor 'model.norm.weight'",
                                "expected BF16 [4], found F32 [4]"});
}

// ---- bad directories and indexes ------------------------------------------------------------

TEST(WeightStore, DirectoryMissing) {
  TempDir dir;
  expect_error<IoError>([&] { (void)WeightStore::open(dir / "nope"); }, {"nope", "does not exist"});
}

TEST(WeightStore, NeitherCheckpointFile) {
  TempDir dir;
  expect_error<IoError>([&] { (void)WeightStore::open(dir.path()); },
                        {dir.path().string(), "model.safetensors",
                         "model.safetensors.index.json"});
}

TEST(WeightStore, MalformedSingleFileNamesIt) {
  TempDir dir;
  write_file(dir / "model.safetensors", pattern(5));
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {(dir / "model.safetensors").string(), "5 bytes"});
}

TEST(WeightStore, ShardedIndexMissingShard) {
  TempDir dir;
  write_sharded(dir);
  std::filesystem::remove(dir / "model-00002-of-00002.safetensors");
  expect_error<IoError>([&] { (void)WeightStore::open(dir.path()); },
                        {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors'",
                         "'model.layers.0.mlp.up_proj.weight' and 1 more", "does not exist"});
}

TEST(WeightStore, ShardedTensorInWrongShard) {
  TempDir dir;
  write_index(dir, R"({
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.mlp.gate_proj.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.mlp.up_proj.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors"})");
  expect_error<TensorMismatch>([&] { (void)WeightStore::open(dir.path()); },
                               {"model.safetensors.index.json",
                                "tensor 'model.layers.0.mlp.up_proj.weight'",
                                "shard 'model-00001-of-00002.safetensors'",
                                "(it is in 'model-00002-of-00002.safetensors')"});
}

TEST(WeightStore, ShardedTensorInTwoShards) {
  TempDir dir;
  write_sharded(dir);
  std::vector<StTensor> dup = shard2;
  dup.push_back(shard1[0]);  // embed_tokens also in shard 2
  write_file(dir / "model-00002-of-00002.safetensors", build_safetensors(dup));
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json",
                             "tensor 'model.embed_tokens.weight' appears in two shards"});
}

TEST(WeightStore, ShardedTensorNotInWeightMap) {
  TempDir dir;
  write_index(dir, R"({
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.mlp.gate_proj.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors"})");
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json", "tensor 'model.norm.weight'",
                             "weight_map does not list"});
}

TEST(WeightStore, WeightMapValueNotString) {
  TempDir dir;
  write_index(dir, R"({"model.norm.weight": {"file": "model-00002-of-00002.safetensors"}})");
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json", "tensor 'model.norm.weight'",
                             "JSON object", "expected a shard file name"});
}

TEST(WeightStore, ShardNameWithPathTraversal) {
  TempDir dir;
  write_index(dir, R"({"model.norm.weight": "../model-00002-of-00002.safetensors"})");
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json", "tensor 'model.norm.weight'",
                             "'../model-00002-of-00002.safetensors'", "plain file name"});
}

TEST(WeightStore, IndexNotJson) {
  TempDir dir;
  write_text(dir / "model.safetensors.index.json", R"({"weight_map": {)");
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json", "not valid JSON", "at byte"});
}

TEST(WeightStore, IndexWithoutWeightMap) {
  TempDir dir;
  write_text(dir / "model.safetensors.index.json", R"({"metadata": {}})");
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json", "missing \"weight_map\""});
}

TEST(WeightStore, IndexDuplicateTensor) {
  TempDir dir;
  write_index(dir, R"({"model.norm.weight": "model-00002-of-00002.safetensors",
                       "model.norm.weight": "model-00001-of-00002.safetensors"})");
  expect_error<FormatError>([&] { (void)WeightStore::open(dir.path()); },
                            {"model.safetensors.index.json", "duplicate key 'model.norm.weight'"});
}

// ---- suggestion distance --------------------------------------------------------------------

TEST(WeightStore, BoundedEditDistanceMatchesFullDp) {
  const auto full = [](const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
      for (std::size_t j = 1; j <= b.size(); ++j)
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                            d[i - 1][j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
    return d[a.size()][b.size()];
  };
  std::mt19937 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string a(rng() % 12, 'a'), b(rng() % 12, 'a');
    for (char& c : a) c = static_cast<char>('a' + rng() % 3);
    for (char& c : b) c = static_cast<char>('a' + rng() % 3);
    const std::size_t limit = rng() % 6;
    const std::size_t want = std::min(full(a, b), limit + 1);
    EXPECT_EQ(templlm::io::detail::bounded_edit_distance(a, b, limit), want)
        << a << " / " << b << " limit " << limit;
  }
}

}  // namespace
