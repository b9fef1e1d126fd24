// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/args.hpp
/// A small argument parser for the subcommands: --flag, --key value, --key=value.
#pragma once
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace templlm::cli {

class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& what) : std::runtime_error(what) {}
};

class Args {
 public:
  /// argv[0] is the subcommand; `flags` take no value, `options` take one.
  Args(int argc, char** argv, const std::set<std::string>& flags,
       const std::set<std::string>& options) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        positional_.push_back(a);
        continue;
      }
      std::string key = a.substr(2), value;
      const auto eq = key.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      }
      if (flags.count(key)) {
        if (inline_value) throw UsageError("--" + key + " takes no value");
        values_[key] = "1";
      } else if (options.count(key)) {
        if (!inline_value) {
          if (i + 1 >= argc) throw UsageError("--" + key + " needs a value");
          value = argv[++i];
        }
        values_[key] = value;
        all_[key].push_back(value);
      } else {
        throw UsageError("unknown option --" + key);
      }
    }
  }
  bool has(const std::string& k) const { return values_.count(k) != 0; }
  /// The value of an option that takes one: given twice it is a UsageError naming both values
  /// (keeping the last one silently would run with a setting the user may not have meant).
  std::optional<std::string> get(const std::string& k) const {
    auto it = values_.find(k);
    if (it == values_.end()) return std::nullopt;
    if (const auto given = all_.find(k); given != all_.end() && given->second.size() > 1)
      throw UsageError("--" + k + " was given " + std::to_string(given->second.size()) + " times ('" +
                       given->second.front() + "', ..., '" + given->second.back() + "'); it takes one value");
    return it->second;
  }
  /// Every value given for an option that may repeat (--image A --image B), in order.
  std::vector<std::string> all(const std::string& k) const {
    auto it = all_.find(k);
    return it == all_.end() ? std::vector<std::string>{} : it->second;
  }
  std::string require(const std::string& k) const {
    auto v = get(k);
    if (!v) throw UsageError("--" + k + " is required");
    return *v;
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_;
  std::vector<std::string> positional_;
};

/// "1,2,3" -> {1, 2, 3}; anything else is a UsageError naming the bad item.
inline std::vector<int> parse_id_list(const std::string& text) {
  std::vector<int> ids;
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t end = std::min(text.find(',', i), text.size());
    int v = 0;
    const auto* b = text.data() + i;
    const auto* e = text.data() + end;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e || b == e)
      throw UsageError("--ids: '" + std::string(b, e) + "' is not a token id (expected 1,2,3)");
    ids.push_back(v);
    i = end + 1;
  }
  return ids;
}

}  // namespace templlm::cli
