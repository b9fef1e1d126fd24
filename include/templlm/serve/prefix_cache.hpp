// SPDX-License-Identifier: Apache-2.0
/// \file serve/prefix_cache.hpp
/// Finished requests' KV caches kept for the prompts that come next: a new request starts from
/// a fork of the cached sequence sharing its longest prefix (pages shared copy-on-write by the
/// KV pool, runtime::AnyModel::fork), so a conversation's next turn or a shared system prompt is
/// not prefilled again. At most `capacity` sequences, least recently used evicted first. Only
/// the scheduler thread uses it (not synchronized).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../runtime/model.hpp"

namespace templlm::serve {

struct PrefixCacheStats {
  std::uint64_t lookups = 0, hits = 0, tokens_reused = 0;
  std::size_t entries = 0;
};

class PrefixCache {
 public:
  explicit PrefixCache(std::size_t capacity, std::int64_t min_tokens = 4) : capacity_(capacity), min_(min_tokens) {}

  /// A sequence of up to `ctx` tokens holding the longest cached prefix of `prompt` (leaving at
  /// least its last token to feed), or nullptr. `reused`: the tokens it holds.
  std::unique_ptr<runtime::Sequence> lookup(runtime::AnyModel& model, const std::vector<int>& prompt, std::int64_t ctx,
                                            std::int64_t& reused) {
    reused = 0;
    if (capacity_ == 0) return nullptr;
    ++stats_.lookups;
    Entry* best = nullptr;
    std::size_t best_len = 0;
    for (Entry& e : entries_) {
      const std::size_t most = std::min(e.tokens.size(), prompt.size() - 1);
      std::size_t n = 0;
      while (n < most && e.tokens[n] == prompt[n]) ++n;
      if (n > best_len) {
        best_len = n;
        best = &e;
      }
    }
    if (!best || std::int64_t(best_len) < min_) return nullptr;
    try {
      auto seq = model.fork(*best->seq, ctx);
      model.truncate(*seq, std::int64_t(best_len));
      best->used = ++clock_;
      ++stats_.hits;
      stats_.tokens_reused += best_len;
      reused = std::int64_t(best_len);
      return seq;
    } catch (const InvalidInput&) {  // a windowed layer already freed a position the prefix needs
      return nullptr;
    }
  }

  /// Keeps a finished request's cache; one whose tokens extend a cached entry replaces it.
  void insert(std::vector<int> tokens, std::unique_ptr<runtime::Sequence> seq) {
    if (capacity_ == 0 || !seq || std::int64_t(tokens.size()) < min_) return;
    for (auto it = entries_.begin(); it != entries_.end();)
      if (it->tokens.size() <= tokens.size() && std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin()))
        it = entries_.erase(it);
      else
        ++it;
    entries_.push_back({std::move(tokens), std::move(seq), ++clock_});
    while (entries_.size() > capacity_) {
      auto lru = std::min_element(entries_.begin(), entries_.end(),
                                  [](const Entry& a, const Entry& b) { return a.used < b.used; });
      entries_.erase(lru);
    }
  }

  PrefixCacheStats stats() const {
    PrefixCacheStats s = stats_;
    s.entries = entries_.size();
    return s;
  }

 private:
  struct Entry {
    std::vector<int> tokens;  // what seq holds
    std::unique_ptr<runtime::Sequence> seq;
    std::uint64_t used;
  };
  std::size_t capacity_;
  std::int64_t min_;
  std::vector<Entry> entries_;
  std::uint64_t clock_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace templlm::serve
