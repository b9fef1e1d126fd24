// SPDX-License-Identifier: Apache-2.0
// What the CPU benchmarks share: their random-weight model shapes, a clock, the --threads list.
#pragma once
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <templlm/model/qwen3_moe.hpp>

namespace templlm::bench {

/// Qwen3-MoE-shaped, ~1.0B total / ~0.2B active parameters (cpu_decode_bench's io::RandomWeights).
struct Qwen3Moe1B : model::Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-moe-1b-random";
  static constexpr cfg::Dims dims{.hidden = 1024, .vocab = 32000, .layers = 12};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 16, .kv_heads = 4, .head_dim = 64, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 32, .active = 4};
  static constexpr cfg::SwiGlu expert{.intermediate = 768};
  static constexpr auto hf_fields() { return model::detail::qwen3_moe_hf_fields<Qwen3Moe1B>(); }
};

/// bench/make_random_checkpoints.py's qwen3-moe-1b-random: 1.1B total parameters, 64 experts of
/// which 8 active, Qwen3's 151936-token vocabulary (checkpoint_bench, against llama.cpp).
struct Qwen3Moe1B64 : model::Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-moe-1b-64e-random";
  static constexpr cfg::Dims dims{.hidden = 1024, .vocab = 151936, .layers = 8};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 16, .kv_heads = 4, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 64, .active = 8};
  static constexpr cfg::SwiGlu expert{.intermediate = 512};
  static constexpr auto hf_fields() { return model::detail::qwen3_moe_hf_fields<Qwen3Moe1B64>(); }
};

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// "1,2" -> {1, 2}; throws std::invalid_argument (std::stoul) on anything else.
inline std::vector<unsigned> parse_threads(const std::string& s) {
  std::vector<unsigned> out;
  for (std::size_t i = 0; i <= s.size();) {
    const std::size_t e = std::min(s.find(',', i), s.size());
    out.push_back(unsigned(std::stoul(s.substr(i, e - i))));
    i = e + 1;
  }
  return out;
}

}  // namespace templlm::bench
