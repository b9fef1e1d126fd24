// SPDX-License-Identifier: Apache-2.0
/// \file tests/support/fixture.hpp
/// Reading the committed transformers reference of a tiny model (tests/data/models/<name>/expected)
/// and comparing against it.
#pragma once
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <templlm/io/npy.hpp>
#include <vector>

namespace templlm::test {

inline std::filesystem::path data_dir() { return TEMPLLM_TEST_DATA_DIR; }
inline std::filesystem::path model_dir(const std::string& name) {
  return data_dir() / "models" / name;
}

/// A fixture's name as a gtest parameter name ("qwen3-moe-tiny" -> "qwen3_moe_tiny").
inline std::string param_name(std::string n) {
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return nlohmann::json::parse(in);
}

struct Reference {
  std::vector<int> ids;
  io::NpyArray logits;                              // [T, vocab]
  std::vector<std::vector<std::vector<int>>> experts;  // [layer][position] -> ids
  std::vector<int> greedy;                          // continuation after ids
};

inline Reference load_reference(const std::string& name) {
  const auto dir = model_dir(name) / "expected";
  Reference r;
  r.ids = read_json(dir / "ids.json").get<std::vector<int>>();
  r.logits = io::read_npy_f32(dir / "prefill_logits.npy");
  r.experts = read_json(dir / "experts.json").get<std::vector<std::vector<std::vector<int>>>>();
  r.greedy = read_json(dir / "greedy.json").at("new_tokens").get<std::vector<int>>();
  return r;
}

/// ||a - b|| / ||b|| over rows [row, row + 1) of width cols, or over everything when row < 0.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b,
                             std::int64_t cols, std::int64_t row = -1) {
  double num = 0, den = 0;
  const std::size_t begin = row < 0 ? 0 : std::size_t(row * cols);
  const std::size_t end = row < 0 ? b.size() : begin + std::size_t(cols);
  for (std::size_t i = begin; i < end; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num) / std::sqrt(den);
}

}  // namespace templlm::test
