// SPDX-License-Identifier: Apache-2.0
/// \file core/sampling.hpp
/// What a sampler is asked (SamplingParams, SampleRequest) and the per-element math of the
/// sampling chain, one definition shared by runtime::Sampler (the specification) and the CUDA
/// sampling kernels (kernels/cuda/sampling.cuh), so both pick the same token for the same input.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "error.hpp"
#include "macros.hpp"

namespace templlm {

struct SamplingParams {
  float temperature = 0.0f;         // 0: greedy (negative is refused by validate)
  int top_k = 0;                    // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off
  float repetition_penalty = 1.0f;  // 1: off
  float presence_penalty = 0.0f;    // 0: off
  float frequency_penalty = 0.0f;   // 0: off
  std::uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.0f; }
  bool has_penalty() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
  void validate() const {
    if (!(top_p > 0.0f && top_p <= 1.0f)) throw InvalidInput("templlm: top_p must be in (0, 1]");
    if (!(min_p >= 0.0f && min_p <= 1.0f)) throw InvalidInput("templlm: min_p must be in [0, 1]");
    if (top_k < 0) throw InvalidInput("templlm: top_k must be >= 0");
    if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
      throw InvalidInput("templlm: repetition_penalty must be a finite number > 0, got " +
                         std::to_string(repetition_penalty));
    if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty))
      throw InvalidInput("templlm: presence_penalty and frequency_penalty must be finite, got " +
                         std::to_string(presence_penalty) + " and " +
                         std::to_string(frequency_penalty));
    // A negative temperature would silently mean greedy (greedy() is temperature <= 0).
    if (!std::isfinite(temperature) || temperature < 0.0f)
      throw InvalidInput("templlm: temperature must be a finite number >= 0 (0 = greedy), got " +
                         std::to_string(temperature));
  }
};

/// One row to sample: its parameters, the tokens already seen (prompt + generated, for the
/// penalties) and the RNG counter of this draw (tokens the sequence has generated so far).
struct SampleRequest {
  SamplingParams params;
  std::span<const int> history;
  std::uint64_t draw = 0;
};

namespace sampling {

/// SplitMix64 finaliser: a counter-based generator (stateless; uniform(seed, n) is a pure
/// function of its arguments).
TEMPLLM_HOST_DEVICE constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A double in [0, 1) from (seed, counter): the top 53 bits of the mixed value.
TEMPLLM_HOST_DEVICE constexpr double uniform(std::uint64_t seed, std::uint64_t counter) {
  const std::uint64_t r = mix64(mix64(seed) ^ mix64(counter + 0x632BE59BD9B4E019ull));
  return double(r >> 11) * (1.0 / 9007199254740992.0);
}

/// A seen token's logit after the penalties, `count` its occurrences in the history (>= 1):
/// repetition as CTRL (divide a positive logit by r, multiply a negative one), then presence
/// once and frequency per occurrence. The device computes presence + frequency x count with
/// separate roundings, as the host does (nvcc would otherwise fuse it into one FMA).
TEMPLLM_HOST_DEVICE inline float penalized_logit(float logit, int count, float repetition, float presence,
                                                 float frequency) {
  if (repetition != 1.0f) logit = logit > 0 ? logit / repetition : logit * repetition;
#if defined(__CUDA_ARCH__)
  return logit - __fadd_rn(presence, __fmul_rn(frequency, float(count)));
#else
  return logit - (presence + frequency * float(count));
#endif
}

/// Bits of `id` in a sort key for a vocabulary of `vocab` tokens (>= 1).
TEMPLLM_HOST_DEVICE constexpr int id_bits(std::int64_t vocab) {
  int b = 1;
  while ((std::int64_t(1) << b) < vocab) ++b;
  return b;
}

/// An unsigned key whose descending order is the chain's order of (logit, id): larger logit
/// first, ties to the lower id. The float's bits made order-preserving (-0 taken as +0, as the
/// host's comparison does) in the high part, the complement of id in the low `bits` bits; no
/// two ids share a key, so any sort of the keys, stable or not, gives the host's order.
TEMPLLM_HOST_DEVICE constexpr std::uint64_t sort_key(float logit, int id, int bits) {
  const std::uint32_t u = __builtin_bit_cast(std::uint32_t, logit == 0.0f ? 0.0f : logit);
  const std::uint32_t ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  const std::uint64_t mask = (std::uint64_t(1) << bits) - 1;
  return (std::uint64_t(ordered) << bits) | (mask - std::uint64_t(id));
}
/// The id and logit a sort_key holds.
TEMPLLM_HOST_DEVICE constexpr int key_id(std::uint64_t key, int bits) {
  const std::uint64_t mask = (std::uint64_t(1) << bits) - 1;
  return int(mask - (key & mask));
}
TEMPLLM_HOST_DEVICE constexpr float key_logit(std::uint64_t key, int bits) {
  const auto ordered = std::uint32_t(key >> bits);
  const std::uint32_t u = (ordered & 0x80000000u) ? (ordered & 0x7FFFFFFFu) : ~ordered;
  return __builtin_bit_cast(float, u);
}

/// The index of the first NaN in logits[0, n), or -1. NaN compares false with everything, so
/// an argmax would return it silently and a sort by logit would be undefined: callers refuse
/// such a row (the host throws; device code reports the index).
TEMPLLM_HOST_DEVICE constexpr std::int64_t first_nan(const float* logits, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    if (logits[i] != logits[i]) return i;
  return -1;
}

/// The top-p cut: a prefix whose cumulative probability reaches this is enough (the 1e-7 slack
/// keeps rounding from pulling in one more token).
TEMPLLM_HOST_DEVICE constexpr double top_p_threshold(float top_p) { return double(top_p) - 1e-7; }

}  // namespace sampling
}  // namespace templlm
