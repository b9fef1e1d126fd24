// SPDX-License-Identifier: Apache-2.0
/// \file runtime/sampler.hpp
/// Choosing the next token from a row of logits. The chain, in order (as in transformers):
///   1. penalties on the logits of tokens already seen (prompt + generated):
///      repetition (CTRL: divide positive logits by r, multiply negative ones by r),
///      presence (subtract p once per distinct token), frequency (subtract f x count);
///   2. temperature <= 0: greedy (argmax, lowest id on ties), done;
///   3. logits / temperature;  4. top-k (keep the k largest);  5. softmax;
///   6. top-p (keep the smallest prefix, by descending probability, whose mass reaches p);
///   7. min-p (keep tokens with probability >= min_p x the largest probability);
///   8. renormalise and draw with a counter-based RNG: draw n of a sequence seeded s uses
///      uniform(s, n) only, so the same seed gives the same tokens on any thread count and
///      regardless of which other sequences share the batch.
/// A Sampler owns its scratch buffers (sized once per vocabulary): no allocation per token.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/sampling.hpp"

namespace templlm::runtime {

// The parameters and the per-element math live in core/sampling.hpp, shared with the CUDA
// sampling kernels; these names keep runtime's spelling.
using templlm::SampleRequest;
using templlm::SamplingParams;
using sampling::mix64;
using sampling::uniform;

class Sampler {
 public:
  explicit Sampler(std::int64_t vocab = 0) { reserve(vocab); }

  void reserve(std::int64_t vocab) {
    if (std::int64_t(work_.size()) >= vocab) return;
    work_.resize(std::size_t(vocab));
    order_.resize(std::size_t(vocab));
    counts_.assign(std::size_t(vocab), 0);
  }

  /// Applies penalties in place to `logits` for the tokens in `history` (prompt + generated).
  static void apply_penalties(std::span<float> logits, std::span<const int> history,
                              const SamplingParams& p, std::vector<int>& counts) {
    if (p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f)
      return;
    if (counts.size() < logits.size()) counts.assign(logits.size(), 0);
    for (int id : history)
      if (id >= 0 && std::size_t(id) < logits.size()) ++counts[std::size_t(id)];
    for (int id : history) {
      if (id < 0 || std::size_t(id) >= logits.size()) continue;
      int& c = counts[std::size_t(id)];
      if (c == 0) continue;  // already applied for this id
      float& l = logits[std::size_t(id)];
      l = sampling::penalized_logit(l, c, p.repetition_penalty, p.presence_penalty, p.frequency_penalty);
      c = 0;
    }
  }

  /// The probabilities the chain draws from (after penalties, temperature, top-k, top-p and
  /// min-p; zero outside the kept set), for tests and inspection. Not for greedy.
  std::vector<float> distribution(std::span<const float> logits, std::span<const int> history,
                                  const SamplingParams& p) {
    reserve(std::int64_t(logits.size()));
    check_no_nan(logits);
    const std::size_t kept = prepare(logits, history, p);
    std::vector<float> out(logits.size(), 0.0f);
    for (std::size_t i = 0; i < kept; ++i) out[std::size_t(order_[i])] = probs_[i];
    return out;
  }

  /// Picks a token. `draw` is the counter for the RNG (the number of tokens the sequence has
  /// generated so far).
  int sample(std::span<const float> logits, std::span<const int> history, const SamplingParams& p,
             std::uint64_t draw) {
    p.validate();  // a few comparisons; greedy too (a NaN penalty would reach the argmax)
    reserve(std::int64_t(logits.size()));
    check_no_nan(logits, draw);
    if (p.temperature <= 0.0f) {
      const float* src = logits.data();
      if (has_penalty(p)) {
        std::copy(logits.begin(), logits.end(), work_.begin());
        apply_penalties(std::span<float>(work_.data(), logits.size()), history, p, counts_);
        src = work_.data();
      }
      return argmax(std::span<const float>(src, logits.size()));
    }
    const std::size_t kept = prepare(logits, history, p);
    const double u = uniform(p.seed, draw);
    double acc = 0.0;
    for (std::size_t i = 0; i < kept; ++i) {
      acc += probs_[i];
      if (u < acc) return order_[i];
    }
    return order_[kept - 1];
  }

  /// Throws InvalidInput if the row has a NaN: greedy would return it silently and the sort of
  /// the sampling chain has no order to follow.
  static void check_no_nan(std::span<const float> logits, std::uint64_t draw = 0) {
    const std::int64_t bad = sampling::first_nan(logits.data(), std::int64_t(logits.size()));
    if (bad >= 0)
      throw InvalidInput("templlm: the model produced NaN logits at token id " + std::to_string(bad) +
                         " (of " + std::to_string(logits.size()) + ") for generated token " +
                         std::to_string(draw) + "; the weights or activations are not finite");
  }

  static int argmax(std::span<const float> v) {
    if (v.empty()) throw InvalidInput("templlm: cannot sample from an empty vocabulary");
    check_no_nan(v);
    return int(std::max_element(v.begin(), v.end()) - v.begin());
  }

  /// log softmax(logits)[id], the model's own log-probability of `id` (before the chain).
  static float logprob(std::span<const float> logits, int id) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    double s = 0.0;
    for (float l : logits) s += std::exp(double(l) - mx);
    return float(double(logits[std::size_t(id)]) - mx - std::log(s));
  }

  /// The k most likely ids with their log softmax, best first (ties: the lower id first), by
  /// the same arithmetic as logprob().
  static std::vector<std::pair<int, float>> top_logprobs(std::span<const float> logits, int k) {
    const std::size_t n = std::min(logits.size(), std::size_t(std::max(k, 0)));
    std::vector<int> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(n), ids.end(), [&](int a, int b) {
      return logits[std::size_t(a)] > logits[std::size_t(b)] || (logits[std::size_t(a)] == logits[std::size_t(b)] && a < b);
    });
    const float mx = *std::max_element(logits.begin(), logits.end());
    double s = 0.0;
    for (float l : logits) s += std::exp(double(l) - mx);
    const double log_s = std::log(s);
    std::vector<std::pair<int, float>> out;
    for (std::size_t i = 0; i < n; ++i)
      out.emplace_back(ids[i], float(double(logits[std::size_t(ids[i])]) - mx - log_s));
    return out;
  }

 private:
  static bool has_penalty(const SamplingParams& p) {
    return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  }

  /// Fills order_[0, kept) with kept token ids by descending probability and probs_ with their
  /// renormalised probabilities; returns kept.
  std::size_t prepare(std::span<const float> logits, std::span<const int> history,
                      const SamplingParams& p) {
    p.validate();
    const std::size_t v = logits.size();
    if (v == 0) throw InvalidInput("templlm: cannot sample from an empty vocabulary");
    std::copy(logits.begin(), logits.end(), work_.begin());
    std::span<float> w(work_.data(), v);
    apply_penalties(w, history, p, counts_);
    const float t = p.temperature > 0.0f ? p.temperature : 1.0f;
    for (auto& x : w) x /= t;
    std::iota(order_.begin(), order_.begin() + std::ptrdiff_t(v), 0);
    auto by_logit = [&](int a, int b) {
      return w[std::size_t(a)] > w[std::size_t(b)] || (w[std::size_t(a)] == w[std::size_t(b)] && a < b);
    };
    std::size_t kept = v;
    if (p.top_k > 0 && std::size_t(p.top_k) < v) {
      kept = std::size_t(p.top_k);
      std::partial_sort(order_.begin(), order_.begin() + std::ptrdiff_t(kept),
                        order_.begin() + std::ptrdiff_t(v), by_logit);
    } else {
      std::sort(order_.begin(), order_.begin() + std::ptrdiff_t(v), by_logit);
    }
    probs_.resize(v);
    const float mx = w[std::size_t(order_[0])];
    double sum = 0.0;
    for (std::size_t i = 0; i < kept; ++i) {
      probs_[i] = float(std::exp(double(w[std::size_t(order_[i])]) - mx));
      sum += probs_[i];
    }
    for (std::size_t i = 0; i < kept; ++i) probs_[i] = float(probs_[i] / sum);
    if (p.top_p < 1.0f) {
      double acc = 0.0;
      std::size_t n = 0;
      while (n < kept) {
        acc += probs_[n++];
        if (acc >= sampling::top_p_threshold(p.top_p)) break;
      }
      kept = n;
    }
    if (p.min_p > 0.0f) {
      const float floor = p.min_p * probs_[0];
      std::size_t n = 1;
      while (n < kept && probs_[n] >= floor) ++n;
      kept = n;
    }
    sum = 0.0;
    for (std::size_t i = 0; i < kept; ++i) sum += probs_[i];
    for (std::size_t i = 0; i < kept; ++i) probs_[i] = float(probs_[i] / sum);
    return kept;
  }

  std::vector<float> work_, probs_;
  std::vector<int> order_, counts_;
};

}  // namespace templlm::runtime
