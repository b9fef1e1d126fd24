// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/tokenizer_test_support.hpp
/// Shared by the tokenizer tests: where the vendored data lives, JSONL reading, and one cached
/// Tokenizer per folder (loading the five files dominates the run time otherwise).
#pragma once
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "templlm/tokenizer/tokenizer.hpp"

#ifndef TEMPLLM_TEST_DATA_DIR
#define TEMPLLM_TEST_DATA_DIR "tests/data"
#endif

namespace templlm::test {

inline std::filesystem::path tokenizer_dir(const std::string& name = "") {
  return std::filesystem::path(TEMPLLM_TEST_DATA_DIR) / "tokenizers" / name;
}

inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

/// Loaded once per process, via from_file (pure tokenizer.json semantics).
inline const tokenizer::Tokenizer& cached_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<tokenizer::Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot)
    slot = std::make_unique<tokenizer::Tokenizer>(
        tokenizer::Tokenizer::from_file(tokenizer_dir(name) / "tokenizer.json"));
  return *slot;
}

inline std::string from_hex(const std::string& h) {
  std::string s;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    s += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return s;
}

inline const std::vector<std::string>& tokenizer_names() {
  static const std::vector<std::string> names{"gptoss", "qwen3", "deepseek_v3", "llama3_1",
                                              "mistral"};
  return names;
}

}  // namespace templlm::test
