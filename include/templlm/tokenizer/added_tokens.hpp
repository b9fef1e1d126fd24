// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/added_tokens.hpp
/// Added tokens (special or not) and how HF tokenizers carves them out of the input before the
/// model runs: leftmost-longest matching over all contents (a byte trie here, Aho-Corasick there),
/// with the single_word, lstrip and rstrip rules of `AddedVocabulary::find_matches`. Tokens with
/// `normalized: false` match the raw input, the others the normalised pieces in a second pass.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer {

struct AddedToken {
  std::string content;
  std::uint32_t id = 0;
  bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};

/// Finds added tokens in text. One matcher per pass (raw, normalised).
class AddedTokenMatcher {
 public:
  void add(const AddedToken& t) {
    if (t.content.empty()) return;
    std::uint32_t node = 0;
    for (const char c : t.content) {
      const auto b = static_cast<unsigned char>(c);
      std::uint32_t child = child_of(node, b);
      if (child == 0) {
        child = static_cast<std::uint32_t>(nodes_.size());
        nodes_.push_back(Node{});
        nodes_[node].children.push_back({b, child});
      }
      node = child;
    }
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<std::int32_t>(tokens_.size());
    tokens_.push_back(t);
    first_byte_[static_cast<unsigned char>(t.content[0])] = true;
  }

  bool empty() const noexcept { return tokens_.empty(); }

  /// Calls `piece(begin, end)` for text between matches and `token(id)` for each match, in order.
  template <class Piece, class Token>
  void split(std::string_view s, Piece&& piece, Token&& token) const {
    if (tokens_.empty()) {
      piece(std::size_t{0}, s.size());
      return;
    }
    std::size_t start_offset = 0, i = 0;
    while (i < s.size()) {
      if (!first_byte_[static_cast<unsigned char>(s[i])]) {
        ++i;
        continue;
      }
      std::size_t end = 0;
      const AddedToken* t = longest_at(s, i, end);
      if (t == nullptr) {
        ++i;
        continue;
      }
      std::size_t start = i, stop = end;
      if (t->single_word && ((start > 0 && is_word_char_before(s, start)) ||
                             (stop < s.size() && is_word_char_at(s, stop)))) {
        i = end;  // like Aho-Corasick's find_iter, do not look for matches inside this one
        continue;
      }
      if (t->lstrip) {
        while (start > start_offset && is_space(s[start - 1])) --start;
      }
      if (t->rstrip) {
        while (stop < s.size() && is_space(s[stop])) ++stop;
      }
      if (start > start_offset) piece(start_offset, start);
      token(t->id);
      start_offset = stop;
      i = stop;
    }
    if (start_offset < s.size() || s.empty()) piece(start_offset, s.size());
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::uint32_t>> children;
    std::int32_t token = -1;
  };

  std::uint32_t child_of(std::uint32_t node, unsigned char b) const {
    for (const auto& [c, n] : nodes_[node].children)
      if (c == b) return n;
    return 0;
  }

  const AddedToken* longest_at(std::string_view s, std::size_t i, std::size_t& end) const {
    const AddedToken* best = nullptr;
    std::uint32_t node = 0;
    for (std::size_t k = i; k < s.size(); ++k) {
      node = child_of(node, static_cast<unsigned char>(s[k]));
      if (node == 0) break;
      if (nodes_[node].token >= 0) {
        best = &tokens_[static_cast<std::size_t>(nodes_[node].token)];
        end = k + 1;
      }
    }
    return best;
  }

  // HF strips with char::is_whitespace; the ASCII subset covers what added tokens meet.
  static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  }
  static bool is_word_byte(unsigned char c) {
    return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') ||
           ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  }
  static bool is_word_char_before(std::string_view s, std::size_t i) {
    return is_word_byte(static_cast<unsigned char>(s[i - 1]));
  }
  static bool is_word_char_at(std::string_view s, std::size_t i) {
    return is_word_byte(static_cast<unsigned char>(s[i]));
  }

  std::vector<Node> nodes_{Node{}};
  std::vector<AddedToken> tokens_;
  std::array<bool, 256> first_byte_{};
};

}  // namespace templlm::tokenizer
