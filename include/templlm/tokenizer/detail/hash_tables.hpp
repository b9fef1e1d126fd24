// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/detail/hash_tables.hpp
/// Two open-addressing hash tables for the BPE hot path: token bytes -> id and
/// (left id, right id) -> (rank, merged id). std::unordered_map costs a node allocation per entry
/// (650k for GPT-OSS) and a pointer chase per lookup. Host-only.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace templlm::tokenizer::detail {

inline std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

inline std::uint64_t hash_bytes(std::string_view s) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
  }
  std::uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * 0x94d049bb133111ebull;
  return mix64(h);
}

/// Maps byte strings to ids. Keys live in the table's own arena.
class StringIdMap {
 public:
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  std::size_t size() const noexcept { return count_; }

  /// Inserts if absent; returns false (and keeps the old id) if the key is already there.
  bool insert(std::string_view key, std::uint32_t id) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    return insert_no_grow(key, id);
  }

  /// The id of `key`, or -1.
  std::int64_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const std::uint64_t h = hash_bytes(key);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    const std::uint64_t head = head8(key);
    for (std::size_t p = h & mask_;; p = (p + 1) & mask_) {
      const Slot& s = slots_[p];
      if (s.len == empty_len) return -1;
      if (s.tag == tag && s.len == key.size() && s.head == head &&
          (key.size() <= 8 || std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0))
        return s.id;
    }
  }

 private:
  static constexpr std::uint32_t empty_len = 0xFFFFFFFFu;
  // The first 8 key bytes live in the slot, so short keys (most tokens) never touch the arena.
  struct Slot {
    std::uint64_t head = 0;
    std::uint32_t tag = 0, len = empty_len, offset = 0, id = 0;
  };
  static std::uint64_t head8(std::string_view k) {
    std::uint64_t w = 0;
    std::memcpy(&w, k.data(), k.size() < 8 ? k.size() : 8);
    return w;
  }

  bool insert_no_grow(std::string_view key, std::uint32_t id) {
    const std::uint64_t h = hash_bytes(key);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    const std::uint64_t head = head8(key);
    for (std::size_t p = h & mask_;; p = (p + 1) & mask_) {
      Slot& s = slots_[p];
      if (s.len == empty_len) {
        s = Slot{head, tag, static_cast<std::uint32_t>(key.size()),
                 static_cast<std::uint32_t>(arena_.size()), id};
        arena_.append(key);
        ++count_;
        return true;
      }
      if (s.tag == tag && s.len == key.size() && s.head == head &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0)
        return false;
    }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    std::string old_arena = std::move(arena_);
    reserve(old.empty() ? 16 : old.size());
    arena_.clear();
    count_ = 0;
    for (const Slot& s : old)
      if (s.len != empty_len)
        insert_no_grow(std::string_view(old_arena).substr(s.offset, s.len), s.id);
  }

  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t mask_ = 0, count_ = 0;
};

/// Maps a pair of token ids to (rank, merged id).
class MergeMap {
 public:
  struct Merge {
    std::uint32_t rank, id;
  };
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, empty_key);
    vals_.assign(cap, Merge{});
    mask_ = cap - 1;
  }
  std::size_t size() const noexcept { return count_; }

  /// Inserts or overwrites: like HF's HashMap collect, a later duplicate of a merge wins.
  void insert(std::uint32_t a, std::uint32_t b, Merge m) {
    if ((count_ + 1) * 2 > keys_.size()) grow();
    const std::uint64_t k = key(a, b);
    for (std::size_t p = mix64(k) & mask_;; p = (p + 1) & mask_) {
      if (keys_[p] == empty_key) {
        keys_[p] = k;
        vals_[p] = m;
        ++count_;
        return;
      }
      if (keys_[p] == k) {
        vals_[p] = m;
        return;
      }
    }
  }
  const Merge* find(std::uint32_t a, std::uint32_t b) const {
    const std::uint64_t k = key(a, b);
    for (std::size_t p = mix64(k) & mask_;; p = (p + 1) & mask_) {
      if (keys_[p] == k) return &vals_[p];
      if (keys_[p] == empty_key) return nullptr;
    }
  }

 private:
  static constexpr std::uint64_t empty_key = ~0ull;
  static std::uint64_t key(std::uint32_t a, std::uint32_t b) {
    return (std::uint64_t{a} << 32) | b;
  }
  void grow() {
    std::vector<std::uint64_t> ok = std::move(keys_);
    std::vector<Merge> ov = std::move(vals_);
    reserve(ok.empty() ? 16 : ok.size());
    count_ = 0;
    for (std::size_t i = 0; i < ok.size(); ++i)
      if (ok[i] != empty_key)
        insert(static_cast<std::uint32_t>(ok[i] >> 32), static_cast<std::uint32_t>(ok[i]), ov[i]);
  }
  std::vector<std::uint64_t> keys_;
  std::vector<Merge> vals_;
  std::size_t mask_ = 0, count_ = 0;
};

}  // namespace templlm::tokenizer::detail
