// SPDX-License-Identifier: Apache-2.0
// Fuzz target: model.safetensors.index.json (io/weight_store.hpp), in a scratch directory that
// also holds one valid two-tensor shard, so inputs naming it reach the cross-checks between the
// index and the shards. An accepted store finds each of its tensors by name.
#include <templlm/io/weight_store.hpp>

#include "fuzz_support.hpp"

namespace {

/// A valid shard: tensors "a" (F32 [2]) and "b" (BF16 [1]), header padded to 8 bytes.
std::string valid_shard() {
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}})";
  while ((header.size() + 8) % 8) header += ' ';
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(10, '\x01');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm;
  static const std::filesystem::path dir = [] {
    const auto d = fuzz::scratch_dir() / "index";
    std::filesystem::create_directories(d);
    fuzz::write_file(d / "model-00001-of-00001.safetensors", valid_shard());
    return d;
  }();
  fuzz::write_file(dir / "model.safetensors.index.json", fuzz::text(data, size));
  fuzz::refused_or_ok([&] {
    const io::WeightStore store = io::WeightStore::open(dir);
    for (const std::string& name : store.names())
      fuzz::require(store.find(name) != nullptr, "every listed tensor is found by name");
  });
  return 0;
}
