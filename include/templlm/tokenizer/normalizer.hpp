// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/normalizer.hpp
/// The normalisers of tokenizer.json that these tokenizers use, flattened from any `Sequence`:
/// NFC, Prepend, Replace (literal or regex). Anything else is refused by name. Host-only.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/limits.hpp"
#include "templlm/tokenizer/nfc.hpp"
#include "templlm/tokenizer/regex.hpp"

namespace templlm::tokenizer {

/// A literal string or a regex, as in `{"String": …}` / `{"Regex": …}`.
struct Pattern {
  std::string literal;
  std::shared_ptr<const Regex> regex;  // set for {"Regex": …}

  static Pattern from_json(const nlohmann::json& j, std::string_view where) {
    Pattern p;
    if (j.contains("String")) {
      p.literal = j.at("String").get<std::string>();
    } else if (j.contains("Regex")) {
      p.regex = std::make_shared<const Regex>(j.at("Regex").get<std::string>());
    } else {
      throw FormatError("tokenizer: " + std::string(where) +
                        " pattern is neither String nor Regex");
    }
    return p;
  }

  /// Calls f(begin, end) for each match in s.
  template <class F>
  void for_each_match(std::string_view s, F&& f) const {
    if (regex) {
      regex->for_each_match(s, f);
      return;
    }
    if (literal.empty()) return;
    for (std::size_t p = s.find(literal); p != std::string_view::npos;
         p = s.find(literal, p + literal.size()))
      f(p, p + literal.size());
  }
};

class Normalizer {
 public:
  Normalizer() = default;
  explicit Normalizer(const nlohmann::json& j) {
    if (!j.is_null()) add(j);
  }

  bool empty() const noexcept { return steps_.empty(); }

  /// Normalises `s` (valid UTF-8). Returns `s` itself when nothing changes, else a view of `buf`.
  std::string_view apply(std::string_view s, std::string& buf) const {
    std::string tmp;
    bool owned = false;
    for (const Step& st : steps_) {
      const std::string_view cur = owned ? std::string_view(buf) : s;
      if (std::holds_alternative<Nfc>(st)) {
        if (nfc_quick_check(cur)) continue;
        tmp = nfc(cur);
      } else if (const auto* p = std::get_if<Prepend>(&st)) {
        if (cur.empty()) continue;  // HF prepends only to non-empty strings
        tmp.assign(p->text).append(cur);
      } else if (const auto* r = std::get_if<Replace>(&st)) {
        tmp.clear();
        std::size_t last = 0;
        r->pattern.for_each_match(cur, [&](std::size_t b, std::size_t e) {
          tmp.append(cur.substr(last, b - last)).append(r->content);
          last = e;
        });
        if (last == 0 && tmp.empty()) continue;
        tmp.append(cur.substr(last));
      }
      buf.swap(tmp);
      owned = true;
    }
    return owned ? std::string_view(buf) : s;
  }

 private:
  struct Nfc {};
  struct Prepend {
    std::string text;
  };
  struct Replace {
    Pattern pattern;
    std::string content;
  };
  using Step = std::variant<Nfc, Prepend, Replace>;

  void add(const nlohmann::json& j, int depth = 0) {
    limits::check_depth(depth, "normalizer");
    const std::string type = j.at("type").get<std::string>();
    if (type == "Sequence") {
      for (const auto& n : j.at("normalizers")) add(n, depth + 1);
    } else if (type == "NFC") {
      steps_.emplace_back(Nfc{});
    } else if (type == "Prepend") {
      steps_.emplace_back(Prepend{j.at("prepend").get<std::string>()});
    } else if (type == "Replace") {
      steps_.emplace_back(Replace{Pattern::from_json(j.at("pattern"), "Replace normalizer"),
                                  j.at("content").get<std::string>()});
    } else {
      throw Unsupported("tokenizer: unsupported normalizer type '" + type + "'");
    }
  }

  std::vector<Step> steps_;
};

}  // namespace templlm::tokenizer
