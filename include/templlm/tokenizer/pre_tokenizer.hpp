// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/pre_tokenizer.hpp
/// Pre-tokenisers of tokenizer.json, flattened from any `Sequence`: Split (regex or literal, all
/// five HF behaviours, invert), ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit. Pieces
/// are views into the caller's text; only steps that rewrite text (Metaspace, a ByteLevel prefix
/// space) allocate. A trailing ByteLevel step is not run at all: byte-level BPE receives raw bytes
/// (see bpe.hpp). Host-only.
#pragma once
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/normalizer.hpp"

namespace templlm::tokenizer {

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(const nlohmann::json& j) {
    if (!j.is_null()) add(j);
    // ByteLevel maps bytes to GPT-2 characters; doing it is only meaningful as the last step.
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (const auto* b = std::get_if<ByteLevel>(&steps_[i])) {
        if (i + 1 != steps_.size())
          throw Unsupported(
              "tokenizer: a ByteLevel pre-tokenizer followed by other "
              "pre-tokenizers is not supported");
        byte_level_ = true;
        (void)b;
      }
    }
  }

  /// True if the sequence ends in ByteLevel: the model then receives raw bytes.
  bool byte_level() const noexcept { return byte_level_; }

  /// Splits `text` into pre-tokens. Views point into `text` or into `store`. `first` says whether
  /// `text` starts the input (Metaspace's prepend_scheme "first").
  void split(std::string_view text, bool first, std::vector<std::string_view>& out,
             std::deque<std::string>& store) const {
    out.clear();
    if (text.empty()) return;
    out.push_back(text);
    thread_local std::vector<std::string_view> next;
    for (const Step& st : steps_) {
      next.clear();
      if (const auto* s = std::get_if<Split>(&st)) {
        for (const std::string_view piece : out) split_one(*s, piece, next);
      } else if (const auto* b = std::get_if<ByteLevel>(&st)) {
        for (const std::string_view piece : out) {
          std::string_view p = piece;
          if (b->add_prefix_space && !p.empty() && p.front() != ' ') {
            store.push_back(" " + std::string(p));
            p = store.back();
          }
          if (b->gpt2_regex)
            split_one(*b->gpt2_regex, p, next);
          else
            next.push_back(p);
        }
      } else if (const auto* m = std::get_if<Metaspace>(&st)) {
        for (std::size_t k = 0; k < out.size(); ++k) {
          std::string s;
          for (const char c : out[k]) {
            if (c == ' ')
              s += m->replacement;
            else
              s += c;
          }
          const bool prepend =
              m->scheme == Metaspace::always || (m->scheme == Metaspace::first && first && k == 0);
          if (prepend && s.compare(0, m->replacement.size(), m->replacement) != 0)
            s.insert(0, m->replacement);
          store.push_back(std::move(s));
          if (m->split)
            split_one(m->splitter, store.back(), next);
          else
            next.push_back(store.back());
        }
      }
      out.swap(next);
    }
  }

 private:
  struct Split {
    Pattern pattern;
    SplitBehavior behavior;
    bool invert;
  };
  struct ByteLevel {
    bool add_prefix_space;
    std::shared_ptr<const Split> gpt2_regex;
  };
  struct Metaspace {
    enum Scheme { always, first, never };
    std::string replacement;
    Scheme scheme;
    bool split;
    Split splitter;
  };
  using Step = std::variant<Split, ByteLevel, Metaspace>;

  static SplitBehavior behavior(const std::string& b) {
    if (b == "Removed") return SplitBehavior::removed;
    if (b == "Isolated") return SplitBehavior::isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
    if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
    if (b == "Contiguous") return SplitBehavior::contiguous;
    throw Unsupported("tokenizer: unsupported Split behavior '" + b + "'");
  }

  static Split regex_split(const std::string& re, SplitBehavior b, bool invert) {
    return Split{Pattern{{}, std::make_shared<const Regex>(re)}, b, invert};
  }

  void add(const nlohmann::json& j, int depth = 0) {
    limits::check_depth(depth, "pre_tokenizer");
    const std::string type = j.at("type").get<std::string>();
    if (type == "Sequence") {
      for (const auto& p : j.at("pretokenizers")) add(p, depth + 1);
    } else if (type == "Split") {
      steps_.emplace_back(Split{Pattern::from_json(j.at("pattern"), "Split"),
                                behavior(j.at("behavior").get<std::string>()),
                                j.value("invert", false)});
    } else if (type == "ByteLevel") {
      ByteLevel b{j.value("add_prefix_space", false), nullptr};
      if (j.value("use_regex", true))
        b.gpt2_regex = std::make_shared<const Split>(regex_split(
            R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
            SplitBehavior::isolated, false));
      steps_.emplace_back(std::move(b));
    } else if (type == "Metaspace") {
      Metaspace m;
      m.replacement = limits::one_char(j.value("replacement", std::string("\xE2\x96\x81")),
                                       "Metaspace pre_tokenizer replacement");
      const std::string scheme = j.contains("prepend_scheme")
                                     ? j.at("prepend_scheme").get<std::string>()
                                     : (j.value("add_prefix_space", true) ? "always" : "never");
      m.scheme = scheme == "always"  ? Metaspace::always
                 : scheme == "first" ? Metaspace::first
                 : scheme == "never"
                     ? Metaspace::never
                     : throw Unsupported("tokenizer: unsupported Metaspace prepend_scheme '" +
                                         scheme + "'");
      m.split = j.value("split", true);
      m.splitter = Split{Pattern{m.replacement, nullptr}, SplitBehavior::merged_with_next, false};
      steps_.emplace_back(std::move(m));
    } else if (type == "Digits") {
      steps_.emplace_back(regex_split(
          R"(\p{N})",
          j.value("individual_digits", false) ? SplitBehavior::isolated : SplitBehavior::contiguous,
          false));
    } else if (type == "Whitespace") {
      steps_.emplace_back(regex_split(R"(\w+|[^\w\s]+)", SplitBehavior::removed, true));
    } else if (type == "WhitespaceSplit") {
      steps_.emplace_back(regex_split(R"(\s+)", SplitBehavior::removed, false));
    } else {
      throw Unsupported("tokenizer: unsupported pre_tokenizer type '" + type + "'");
    }
  }

  // HF `NormalizedString::split`: the pieces between and at matches, combined per behaviour.
  static void split_one(const Split& s, std::string_view piece,
                        std::vector<std::string_view>& out) {
    struct Part {
      std::size_t b, e;
      bool match;
    };
    thread_local std::vector<Part> parts;
    parts.clear();
    std::size_t prev = 0;
    s.pattern.for_each_match(piece, [&](std::size_t b, std::size_t e) {
      if (prev != b) parts.push_back({prev, b, s.invert});
      parts.push_back({b, e, !s.invert});
      prev = e;
    });
    if (prev != piece.size()) parts.push_back({prev, piece.size(), s.invert});
    const auto emit = [&](std::size_t b, std::size_t e) {
      if (e > b) out.push_back(piece.substr(b, e - b));
    };
    switch (s.behavior) {
      case SplitBehavior::isolated:
        for (const Part& p : parts) emit(p.b, p.e);
        return;
      case SplitBehavior::removed:
        for (const Part& p : parts)
          if (!p.match) emit(p.b, p.e);
        return;
      default:
        break;
    }
    // The merging behaviours fold parts together, then emit.
    thread_local std::vector<Part> acc;
    acc.clear();
    bool previous_match = false;
    if (s.behavior == SplitBehavior::merged_with_next) {
      for (std::size_t k = parts.size(); k-- > 0;) {
        const Part& p = parts[k];
        if (p.match && !previous_match && !acc.empty())
          acc.back().b = p.b;
        else
          acc.push_back(p);
        previous_match = p.match;
      }
      for (std::size_t k = acc.size(); k-- > 0;) emit(acc[k].b, acc[k].e);
      return;
    }
    for (const Part& p : parts) {
      const bool extend = s.behavior == SplitBehavior::contiguous ? p.match == previous_match
                                                                  : p.match && !previous_match;
      if (extend && !acc.empty())
        acc.back().e = p.e;
      else
        acc.push_back(p);
      previous_match = p.match;
    }
    for (const Part& p : acc) emit(p.b, p.e);
  }

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace templlm::tokenizer
