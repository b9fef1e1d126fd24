// SPDX-License-Identifier: Apache-2.0
/// \file io/unread_tensors.hpp
/// The load-time check that every checkpoint tensor was read by some component: a tensor nobody
/// asked for is a mechanism the description does not know (a shared expert of another kind, a
/// bias, a norm), and running without it gives wrong outputs with no error. A description lists
/// what it skips on purpose in `skipped_tensors` (cfg::SkippedTensors, core/config.hpp).
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace templlm::io {

/// M::skipped_tensors, or none when the description declares no such member.
template <class M>
constexpr std::span<const cfg::SkippedTensors> skipped_tensors_of() {
  if constexpr (requires { M::skipped_tensors; })
    return std::span<const cfg::SkippedTensors>(M::skipped_tensors);
  else
    return {};
}

/// The entry of `skipped` that excuses tensor `name`, or nullptr.
inline const cfg::SkippedTensors* skip_entry(std::string_view name,
                                             std::span<const cfg::SkippedTensors> skipped) {
  for (const auto& s : skipped)
    if (!s.prefix.empty() && name.starts_with(s.prefix)) return &s;
  return nullptr;
}

/// The names of `unread` that no entry of `skipped` excuses, in order.
inline std::vector<std::string> unexcused(std::span<const std::string> unread,
                                          std::span<const cfg::SkippedTensors> skipped) {
  std::vector<std::string> out;
  for (const std::string& n : unread)
    if (!skip_entry(n, skipped)) out.push_back(n);
  return out;
}

/// Throws UnusedTensors naming the first `shown` of `names`, their count, the model and the
/// checkpoint directory; does nothing when `names` is empty.
inline void refuse_unread(std::span<const std::string> names, std::string_view model,
                          const std::filesystem::path& dir, std::size_t shown = 10) {
  if (names.empty()) return;
  std::string msg = "templlm: " + dir.string() + ": " + std::to_string(names.size()) +
                    " checkpoint tensor" + (names.size() == 1 ? " was" : "s were") +
                    " not read by any component of " + std::string(model) + ":";
  for (std::size_t i = 0; i < names.size() && i < shown; ++i) msg += "\n  " + names[i];
  if (names.size() > shown) msg += "\n  ... and " + std::to_string(names.size() - shown) + " more";
  msg += "\nThe description does not know a mechanism this checkpoint has (outputs would be "
         "wrong); a tensor skipped on purpose belongs in the description's skipped_tensors.";
  throw UnusedTensors(msg);
}

}  // namespace templlm::io
