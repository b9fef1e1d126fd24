// SPDX-License-Identifier: Apache-2.0
/// \file serve/histogram.hpp
/// A Prometheus histogram of seconds with fixed buckets (time to first token, inter-token
/// latency), and its text exposition. Not synchronized: its owner locks.
#pragma once
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

namespace templlm::serve {

struct Histogram {
  static constexpr std::array<double, 14> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
  std::array<std::uint64_t, bounds.size()> counts{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sum = 0;

  void observe(double seconds) {
    for (std::size_t i = 0; i < bounds.size(); ++i)
      if (seconds <= bounds[i]) {
        ++counts[i];
        break;
      }
    ++count;
    sum += seconds;
  }

  /// `name`_bucket{le=...} (cumulative, then +Inf), `name`_sum, `name`_count.
  std::string exposition(const std::string& name, const std::string& help) const {
    std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    std::uint64_t cumulative = 0;
    char le[32];
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += counts[i];
      std::snprintf(le, sizeof le, "%g", bounds[i]);
      out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
    out += name + "_sum " + std::to_string(sum) + "\n" + name + "_count " + std::to_string(count) + "\n";
    return out;
  }
};

}  // namespace templlm::serve
