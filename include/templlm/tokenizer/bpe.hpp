// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/bpe.hpp
/// The BPE model of tokenizer.json: vocabulary, ranked merges (`"a b"` strings or `["a", "b"]`
/// pairs), `ignore_merges`, byte fallback (`<0xNN>`), unk fusing, and a per-word result cache.
/// Merging follows HF tokenizers' `Word::merge_all` exactly: repeatedly merge the adjacent pair of
/// lowest rank, leftmost first. Host-only; used by tokenizer.hpp.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/byte_level.hpp"
#include "templlm/tokenizer/detail/hash_tables.hpp"
#include "templlm/tokenizer/detail/json_scan.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer {

/// Caches the ids of recently seen words. Not thread-safe; the Tokenizer guards it.
class BpeCache {
 public:
  static constexpr std::size_t max_word_bytes = 256;   // longer words are not worth keeping
  static constexpr std::size_t max_entries = 1 << 19;  // then start over: bounded memory

  bool find(std::string_view word, std::vector<std::uint32_t>& out) const {
    const std::int64_t e = index_.find(word);
    if (e < 0) return false;
    const Entry& en = entries_[static_cast<std::size_t>(e)];
    out.insert(out.end(), ids_.begin() + en.offset, ids_.begin() + en.offset + en.length);
    return true;
  }
  void insert(std::string_view word, const std::uint32_t* ids, std::size_t n) {
    if (word.size() > max_word_bytes) return;
    if (entries_.size() >= max_entries) clear();
    if (!index_.insert(word, static_cast<std::uint32_t>(entries_.size()))) return;
    entries_.push_back(
        Entry{static_cast<std::uint32_t>(ids_.size()), static_cast<std::uint32_t>(n)});
    ids_.insert(ids_.end(), ids, ids + n);
  }
  void clear() {
    index_ = detail::StringIdMap{};
    entries_.clear();
    ids_.clear();
  }

 private:
  struct Entry {
    std::uint32_t offset, length;
  };
  detail::StringIdMap index_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> ids_;
};

class Bpe {
 public:
  /// The `model` object of tokenizer.json as read from the file.
  struct Spec {
    std::vector<std::string> tokens;  // id -> spelling in the file ("" for unused ids)
    std::vector<bool> present;
    detail::StringIdMap by_spelling;  // filled as the vocab is read
    bool vocab_done = false;
    // Merges as (left, right, merged) ids, resolved while reading when the vocab came first (it
    // does in every published file); otherwise kept as strings and resolved afterwards.
    std::vector<std::array<std::uint32_t, 3>> merges;
    std::vector<std::pair<std::string, std::string>> pending_merges;
    std::optional<std::string> unk_token;
    bool ignore_merges = false, byte_fallback = false, fuse_unk = false;
  };

  /// Reads the `model` object. `other(key, raw_json)` receives the keys this reader does not use.
  static Spec parse(detail::JsonCursor& in) {
    Spec spec;
    std::string scratch, scratch2;
    in.object([&](std::string_view key) {
      if (key == "vocab") {
        spec.by_spelling.reserve(1 << 16);
        std::size_t max_id = 0;
        in.object([&](std::string_view tok) {
          const std::int64_t id = in.integer();
          if (id < 0 || id > (1 << 24)) in.fail("token id " + std::to_string(id) + " out of range");
          const auto i = static_cast<std::size_t>(id);
          if (i >= spec.tokens.size()) {
            spec.tokens.resize(std::max(i + 1, spec.tokens.size() * 2));
            spec.present.resize(spec.tokens.size());
          }
          if (spec.present[i]) in.fail("token id " + std::to_string(id) + " appears twice");
          spec.tokens[i] = tok;
          spec.present[i] = true;
          spec.by_spelling.insert(tok, static_cast<std::uint32_t>(i));
          max_id = std::max(max_id, i);
        });
        spec.tokens.resize(spec.tokens.empty() ? 0 : max_id + 1);
        spec.vocab_done = true;
      } else if (key == "merges") {
        std::string left, joined;
        in.array([&] {
          std::string_view a, b;
          if (in.peek() == '"') {
            const std::string_view m = in.string(scratch);
            const std::size_t sp = m.find(' ');
            if (sp == std::string_view::npos || m.find(' ', sp + 1) != std::string_view::npos)
              in.fail("merge \"" + std::string(m) + "\" is not two space-separated tokens");
            a = m.substr(0, sp);
            b = m.substr(sp + 1);
          } else {
            int n = 0;
            in.array([&] {
              if (n == 0)
                left.assign(in.string(scratch));
              else if (n == 1)
                b = in.string(scratch2);
              else
                in.skip_value();
              ++n;
            });
            if (n != 2) in.fail("merge pair does not have two tokens");
            a = left;
          }
          if (!spec.vocab_done) {
            spec.pending_merges.emplace_back(a, b);
            return;
          }
          spec.merges.push_back(resolve(spec.by_spelling, a, b, spec.merges.size(), joined));
        });
      } else if (key == "type") {
        const std::string_view t = in.string(scratch);
        if (t != "BPE")
          throw Unsupported("tokenizer: unsupported model type '" + std::string(t) +
                            "' (only BPE is implemented)");
      } else if (key == "unk_token") {
        if (in.peek() == 'n')
          in.skip_value();
        else
          spec.unk_token = std::string(in.string(scratch));
      } else if (key == "ignore_merges" || key == "byte_fallback" || key == "fuse_unk") {
        const std::string_view v = in.skip_value();
        const bool b = v == "true";
        if (!b && v != "false" && v != "null") in.fail(std::string(key) + " is not a boolean");
        (key == "ignore_merges"   ? spec.ignore_merges
         : key == "byte_fallback" ? spec.byte_fallback
                                  : spec.fuse_unk) = b;
      } else if (key == "continuing_subword_prefix" || key == "end_of_word_suffix") {
        const std::string_view v = in.peek() == 'n' ? in.skip_value() : in.string(scratch2);
        if (v != "null" && !v.empty())
          throw Unsupported("tokenizer: BPE " + std::string(key) + " '" + std::string(v) +
                            "' is not supported");
      } else if (key == "dropout") {
        const std::string_view v = in.skip_value();
        if (v != "null" && v != "0" && v != "0.0" && v != "1.0")
          throw Unsupported("tokenizer: BPE dropout is not supported");
      } else {
        in.skip_value();
      }
    });
    spec.present.resize(spec.tokens.size());
    return spec;
  }

  /// The ids of merge number `rank` ("a b"): left, right and merged token.
  static std::array<std::uint32_t, 3> resolve(const detail::StringIdMap& vocab, std::string_view a,
                                              std::string_view b, std::size_t rank,
                                              std::string& joined) {
    joined.assign(a).append(b);
    const std::int64_t ia = vocab.find(a), ib = vocab.find(b), ij = vocab.find(joined);
    if (ia < 0 || ib < 0 || ij < 0) {
      const std::string missing(ia < 0 ? a : ib < 0 ? b : std::string_view(joined));
      throw FormatError("tokenizer: merge " + std::to_string(rank) + " ('" + std::string(a) +
                        "' '" + std::string(b) + "') references token '" + missing +
                        "' missing from the vocabulary");
    }
    return {static_cast<std::uint32_t>(ia), static_cast<std::uint32_t>(ib),
            static_cast<std::uint32_t>(ij)};
  }

  /// Builds the lookup tables. With `byte_level`, words arrive as raw bytes and the vocabulary is
  /// converted from GPT-2's byte characters once, here.
  Bpe(Spec spec, bool byte_level)
      : tokens_(std::move(spec.tokens)),
        present_(std::move(spec.present)),
        byte_level_(byte_level),
        ignore_merges_(spec.ignore_merges),
        byte_fallback_(spec.byte_fallback),
        fuse_unk_(spec.fuse_unk) {
    by_spelling_ = std::move(spec.by_spelling);
    if (byte_level_) {
      by_bytes_.reserve(tokens_.size());
      for (std::size_t id = 0; id < tokens_.size(); ++id) {
        if (!present_[id]) continue;
        if (auto raw = byte_level::to_bytes(tokens_[id]))
          by_bytes_.insert(*raw, static_cast<std::uint32_t>(id));
      }
    }
    byte_ids_.fill(-1);
    for (int b = 0; b < 256; ++b) {
      std::string key;
      if (byte_level_) {
        key = std::string(1, static_cast<char>(b));
      } else if (byte_fallback_) {
        static constexpr char hex[] = "0123456789ABCDEF";
        key = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
      } else {
        continue;
      }
      byte_ids_[static_cast<std::size_t>(b)] = (byte_level_ ? by_bytes_ : by_spelling_).find(key);
    }
    if (spec.unk_token) {
      const std::int64_t u = by_spelling_.find(*spec.unk_token);
      if (u < 0)
        throw FormatError("tokenizer: unk_token '" + *spec.unk_token +
                          "' is not in the vocabulary");
      unk_ = u;
    }
    std::string joined;
    for (const auto& [a, b] : spec.pending_merges)
      spec.merges.push_back(resolve(by_spelling_, a, b, spec.merges.size(), joined));
    merges_.reserve(spec.merges.size());
    for (std::size_t r = 0; r < spec.merges.size(); ++r) {
      const auto& m = spec.merges[r];
      merges_.insert(m[0], m[1], {static_cast<std::uint32_t>(r), m[2]});
    }
  }

  std::size_t size() const noexcept { return tokens_.size(); }
  bool has_id(std::uint32_t id) const noexcept { return id < tokens_.size() && present_[id]; }
  /// The token's spelling as in tokenizer.json (byte-level characters for byte-level models).
  const std::string& id_to_token(std::uint32_t id) const { return tokens_[id]; }
  std::int64_t token_to_id(std::string_view spelling) const { return by_spelling_.find(spelling); }
  bool byte_level() const noexcept { return byte_level_; }

  /// Appends the ids of one pre-token (raw bytes for byte-level models, else UTF-8).
  void encode_word(std::string_view word, std::vector<std::uint32_t>& out) const {
    if (word.empty()) return;
    const detail::StringIdMap& vocab = byte_level_ ? by_bytes_ : by_spelling_;
    if (ignore_merges_) {
      if (const std::int64_t id = vocab.find(word); id >= 0) {
        out.push_back(static_cast<std::uint32_t>(id));
        return;
      }
    }
    thread_local std::vector<std::uint32_t> sym;
    sym.clear();
    initial_symbols(word, vocab, sym);
    if (sym.size() > 48)
      merge_heap(sym);
    else
      merge_small(sym);
    out.insert(out.end(), sym.begin(), sym.end());
  }

 private:
  void initial_symbols(std::string_view word, const detail::StringIdMap& vocab,
                       std::vector<std::uint32_t>& sym) const {
    std::int64_t pending_unk = -1;  // index in sym of an unk that fuse_unk may extend
    const auto push_unknown = [&] {
      if (unk_ < 0) return;  // HF drops the character when there is no unk token
      if (fuse_unk_ && pending_unk >= 0 && pending_unk + 1 == static_cast<std::int64_t>(sym.size()))
        return;
      pending_unk = static_cast<std::int64_t>(sym.size());
      sym.push_back(static_cast<std::uint32_t>(unk_));
    };
    if (byte_level_) {
      for (const unsigned char b : word) {
        if (byte_ids_[b] >= 0)
          sym.push_back(static_cast<std::uint32_t>(byte_ids_[b]));
        else
          push_unknown();
      }
      return;
    }
    for (std::size_t i = 0; i < word.size();) {
      const std::size_t len = utf8::lead_length(static_cast<unsigned char>(word[i]));
      const std::string_view ch = word.substr(i, len);
      i += len;
      if (const std::int64_t id = vocab.find(ch); id >= 0) {
        sym.push_back(static_cast<std::uint32_t>(id));
        continue;
      }
      if (byte_fallback_ && std::all_of(ch.begin(), ch.end(), [&](char c) {
            return byte_ids_[static_cast<unsigned char>(c)] >= 0;
          })) {
        for (const char c : ch)
          sym.push_back(static_cast<std::uint32_t>(byte_ids_[static_cast<unsigned char>(c)]));
        continue;
      }
      push_unknown();
    }
  }

  static constexpr std::uint32_t no_merge = 0xFFFFFFFFu;

  // Few symbols: keep each adjacent pair's rank and rescan for the minimum.
  void merge_small(std::vector<std::uint32_t>& sym) const {
    thread_local std::vector<detail::MergeMap::Merge> pair;
    pair.resize(sym.size());
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) pair[i] = lookup(sym[i], sym[i + 1]);
    while (sym.size() > 1) {
      std::size_t best = 0;
      for (std::size_t i = 1; i + 1 < sym.size(); ++i)
        if (pair[i].rank < pair[best].rank) best = i;
      if (pair[best].rank == no_merge) break;
      sym[best] = pair[best].id;
      sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(best) + 1);
      pair.erase(pair.begin() + static_cast<std::ptrdiff_t>(best) + 1);
      if (best > 0) pair[best - 1] = lookup(sym[best - 1], sym[best]);
      if (best + 1 < sym.size()) pair[best] = lookup(sym[best], sym[best + 1]);
    }
  }

  // Many symbols (long runs, whole SentencePiece lines): HF's heap with lazy invalidation.
  void merge_heap(std::vector<std::uint32_t>& sym) const {
    struct Entry {
      std::uint32_t rank, pos, id;
      bool operator>(const Entry& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    const std::size_t n = sym.size();
    thread_local std::vector<std::int32_t> prev, next;
    thread_local std::vector<bool> alive;
    prev.resize(n);
    next.resize(n);
    alive.assign(n, true);
    std::vector<Entry> storage;
    storage.reserve(n);
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap(std::greater<>{},
                                                                        std::move(storage));
    for (std::size_t i = 0; i < n; ++i) {
      prev[i] = static_cast<std::int32_t>(i) - 1;
      next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
      if (i + 1 < n) {
        const auto m = lookup(sym[i], sym[i + 1]);
        if (m.rank != no_merge) heap.push({m.rank, static_cast<std::uint32_t>(i), m.id});
      }
    }
    while (!heap.empty()) {
      const Entry top = heap.top();
      heap.pop();
      if (!alive[top.pos] || next[top.pos] < 0) continue;
      const auto right = static_cast<std::size_t>(next[top.pos]);
      const auto cur = lookup(sym[top.pos], sym[right]);
      if (cur.rank == no_merge || cur.id != top.id) continue;  // stale entry
      sym[top.pos] = top.id;
      alive[right] = false;
      next[top.pos] = next[right];
      if (next[right] >= 0)
        prev[static_cast<std::size_t>(next[right])] = static_cast<std::int32_t>(top.pos);
      if (prev[top.pos] >= 0) {
        const auto p = static_cast<std::size_t>(prev[top.pos]);
        const auto m = lookup(sym[p], sym[top.pos]);
        if (m.rank != no_merge) heap.push({m.rank, static_cast<std::uint32_t>(p), m.id});
      }
      if (next[top.pos] >= 0) {
        const auto m = lookup(sym[top.pos], sym[static_cast<std::size_t>(next[top.pos])]);
        if (m.rank != no_merge) heap.push({m.rank, top.pos, m.id});
      }
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (alive[i]) sym[out++] = sym[i];
    sym.resize(out);
  }

  detail::MergeMap::Merge lookup(std::uint32_t a, std::uint32_t b) const {
    const auto* m = merges_.find(a, b);
    return m ? *m : detail::MergeMap::Merge{no_merge, 0};
  }

  std::vector<std::string> tokens_;
  std::vector<bool> present_;
  detail::StringIdMap by_spelling_;  // spelling in the file -> id
  detail::StringIdMap by_bytes_;     // byte-level models: raw bytes -> id
  detail::MergeMap merges_;
  std::array<std::int64_t, 256> byte_ids_{};
  std::int64_t unk_ = -1;
  bool byte_level_, ignore_merges_, byte_fallback_, fuse_unk_;
};

}  // namespace templlm::tokenizer
