// SPDX-License-Identifier: Apache-2.0
/// \file layers/kv_pool.hpp
/// The paged KV cache of one model: one pool in backend memory shared by all sequences.
///
/// Layers are grouped by what they keep: full layers keep every position; sliding-window and
/// chunked layers keep only what a later query can still see. The layers of one group share page
/// ids: page g of the group is rows [g * page_size, (g + 1) * page_size) of every member layer's
/// storage. A sequence is a list of page ids per group and a length. Pages are allocated as the
/// sequence grows (never max_context up front), freed when they fall out of every window of the
/// group (keeping `rollback` positions of slack so truncate() can step back), and may be shared
/// between sequences with reference counts: fork() shares all pages of a sequence, and the first
/// write into a shared page copies it (copy on write) — what prefix caching builds on.
///
/// The element type T is fp32 (the exact path) or bf16 (core/kv.hpp). Storage grows by doubling
/// (contents kept); page ids stay valid across growth, pointers do not: views are taken per step.
///
/// Further layer-state kinds (a recurrent state per sequence, compressed caches) are further
/// groups with their own per-sequence state; the ops see them through their own views, so the
/// seam between layers and backends does not change.
///
/// Thread safety: a pool and its sequences are per-caller state; one thread at a time.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/kv.hpp"
#include "../core/op_args.hpp"

namespace templlm::layers {

/// What one layer keeps per position, and for how long.
struct KvLayerSpec {
  std::int64_t k_width = 0, v_width = 0;  // elements per position
  cfg::Mixer mixer = cfg::Mixer::full;    // sliding / chunked layers free old pages
  int window = 0;                         // sliding: keys incl. self; chunked: chunk size
};

struct KvPoolOptions {
  int page_size = 16;            // positions per page; a power of two
  std::int64_t max_pages = 0;    // per group; 0: limited only by memory
  std::int64_t rollback = 16;    // positions kept beyond the windows so truncate() can step back
};

template <class B, KvElement T = float>
class KvPool {
 public:
  using Space = typename B::space;
  using Element = T;

  class Sequence {
   public:
    Sequence(const Sequence&) = delete;
    Sequence& operator=(const Sequence&) = delete;
    ~Sequence() { pool_->release(*this); }
    std::int64_t length() const { return length_; }
    /// Tokens this sequence may hold (its context); pages are allocated only as it grows.
    std::int64_t max_context() const { return limit_; }
    std::int64_t remaining() const { return limit_ - length_; }
    /// Pages held, summed over groups (shared pages count once per sequence holding them).
    std::int64_t pages_held() const {
      std::int64_t n = 0;
      for (const auto& t : tables_)
        n += std::count_if(t.begin(), t.end(), [](int p) { return p >= 0; });
      return n;
    }

   private:
    friend class KvPool;
    Sequence(KvPool* pool, std::int64_t limit) : pool_(pool), limit_(limit), tables_(pool->groups_.size()) {}
    KvPool* pool_;
    std::int64_t length_ = 0, limit_;
    std::vector<std::vector<int>> tables_;  // per group: logical page -> page id, -1 when freed
  };

  KvPool(B& be, std::span<const KvLayerSpec> layers, KvPoolOptions options = {})
      : be_(be), options_(options) {
    if (options.page_size <= 0 || (options.page_size & (options.page_size - 1)) != 0)
      throw InvalidInput("templlm: KV page size must be a power of two, got " + std::to_string(options.page_size));
    if (options.rollback < 0 || options.max_pages < 0)
      throw InvalidInput("templlm: KV pool rollback and max_pages must not be negative");
    while ((1 << shift_) < options.page_size) ++shift_;
    layers_.resize(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const KvLayerSpec& l = layers[i];
      const bool windowed = l.mixer == cfg::Mixer::sliding || l.mixer == cfg::Mixer::chunked;
      if (windowed && l.window <= 0)
        throw InvalidInput("templlm: layer " + std::to_string(i) + " has a window of " +
                           std::to_string(l.window) + " positions");
      const cfg::Mixer keep = windowed ? l.mixer : cfg::Mixer::full;
      const int window = windowed ? l.window : 0;
      std::size_t g = 0;
      while (g < groups_.size() && !(groups_[g].keep == keep && groups_[g].window == window)) ++g;
      if (g == groups_.size()) groups_.push_back({keep, window, {}, {}, {}, 0});
      groups_[g].layers.push_back(i);
      layers_[i].group = int(g);
      layers_[i].k_width = l.k_width;
      layers_[i].v_width = l.v_width;
    }
  }

  int page_size() const { return 1 << shift_; }
  int page_shift() const { return shift_; }
  std::size_t groups() const { return groups_.size(); }
  int group_of(std::size_t layer) const { return layers_.at(layer).group; }
  std::size_t layers() const { return layers_.size(); }

  /// A new empty sequence of up to max_context tokens; allocates nothing.
  std::unique_ptr<Sequence> new_sequence(std::int64_t max_context) {
    if (max_context <= 0)
      throw InvalidInput("templlm: a sequence needs a positive context, got " + std::to_string(max_context));
    return std::unique_ptr<Sequence>(new Sequence(this, max_context));
  }

  /// A sequence that shares every page of `parent` (same length; its context, or max_context
  /// when that is given). Writing past the shared length copies the page being written first;
  /// the parent is unaffected.
  std::unique_ptr<Sequence> fork(const Sequence& parent, std::int64_t max_context = 0) {
    check_own(parent);
    if (max_context != 0 && max_context < parent.length_)
      throw InvalidInput("templlm: a fork of a " + std::to_string(parent.length_) + "-token sequence cannot hold only " +
                         std::to_string(max_context) + " tokens");
    auto s = new_sequence(max_context != 0 ? max_context : parent.limit_);
    s->length_ = parent.length_;
    s->tables_ = parent.tables_;
    for (std::size_t g = 0; g < groups_.size(); ++g)
      for (int p : s->tables_[g])
        if (p >= 0) ++groups_[g].refs[std::size_t(p)];
    return s;
  }

  /// Rolls the sequence back to its first n tokens, as if the rest had never been appended.
  /// Throws when a windowed group already freed a position the shorter sequence still needs
  /// (roll back at most KvPoolOptions::rollback positions past a window).
  void truncate(Sequence& s, std::int64_t n) {
    check_own(s);
    if (n < 0 || n > s.length_)
      throw InvalidInput("templlm: cannot truncate a sequence of " + std::to_string(s.length_) +
                         " tokens to " + std::to_string(n));
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const std::int64_t need = first_needed(groups_[g], n);
      for (std::int64_t p = need; p < n; p += page_size() - (p & (page_size() - 1)))
        if (s.tables_[g][std::size_t(p >> shift_)] < 0)
          throw InvalidInput("templlm: cannot roll back to " + std::to_string(n) + " tokens: the " +
                             window_name(groups_[g]) + " layers already freed position " + std::to_string(p) +
                             " (a rollback may reach at most " + std::to_string(options_.rollback) +
                             " positions behind the window)");
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      auto& table = s.tables_[g];
      const std::size_t keep = std::size_t((n + page_size() - 1) >> shift_);
      for (std::size_t i = keep; i < table.size(); ++i) unref(g, table[i]);
      if (table.size() > keep) table.resize(keep);
    }
    s.length_ = n;
  }

  /// Before a step: pages for positions [length, length + n) in every group, the page being
  /// written first copied if shared. Pages a windowed group would free right after the step are
  /// not allocated (their positions are not stored). May grow the storage.
  void reserve(Sequence& s, std::int64_t n) {
    check_own(s);
    if (n > s.remaining())
      throw InvalidInput("templlm: context exhausted: the sequence holds " + std::to_string(s.length_) +
                         " tokens, " + std::to_string(n) + " more would exceed its " +
                         std::to_string(s.limit_) + "-token context");
    const std::int64_t begin = s.length_, end = s.length_ + n;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      auto& table = s.tables_[g];
      const std::int64_t keep_from = keep_from_after(groups_[g], end);
      table.resize(std::size_t((end + page_size() - 1) >> shift_), -1);
      for (std::int64_t i = begin >> shift_; i < std::int64_t(table.size()); ++i) {
        int& id = table[std::size_t(i)];
        if (id < 0) {
          // Out of every window once the step is done: its positions are not stored.
          if (((i + 1) << shift_) <= keep_from) continue;
          id = allocate(g);
        } else if (groups_[g].refs[std::size_t(id)] > 1) {  // shared: copy before the first write
          const int copy = allocate(g);
          copy_page(g, id, copy);
          unref(g, id);
          id = copy;
        }
      }
    }
  }

  /// After a step: the sequence holds n more tokens; pages out of every window are freed.
  void commit(Sequence& s, std::int64_t n) {
    s.length_ += n;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      if (groups_[g].keep == cfg::Mixer::full) continue;
      const std::int64_t keep_from = keep_from_after(groups_[g], s.length_);
      auto& table = s.tables_[g];
      for (std::int64_t i = 0; i < std::int64_t(table.size()) && ((i + 1) << shift_) <= keep_from; ++i) {
        unref(g, table[std::size_t(i)]);
        table[std::size_t(i)] = -1;
      }
    }
  }

  /// Chunk c's page table for group g, covering positions [0, length + tokens).
  std::span<const int> table(const Sequence& s, std::size_t g) const { return s.tables_[g]; }

  /// Layer i's storage, valid until the next reserve() (which may grow it).
  KvPages<T, Space> layer(std::size_t i) {
    auto& l = layers_.at(i);
    return {l.k.data(), l.v_width > 0 ? l.v.data() : nullptr, l.k_width, l.v_width};
  }

  /// Pages in use in group g (a shared page counts once), and the storage allocated for it.
  std::int64_t pages_in_use(std::size_t g) const {
    return groups_.at(g).capacity - std::int64_t(groups_[g].free.size());
  }
  std::int64_t pages_in_use() const {
    std::int64_t n = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) n += pages_in_use(g);
    return n;
  }
  std::int64_t pages_allocated(std::size_t g) const { return groups_.at(g).capacity; }
  /// Bytes of one page of group g (all its layers, keys and values).
  std::int64_t page_bytes(std::size_t g) const {
    std::int64_t w = 0;
    for (std::size_t i : groups_.at(g).layers) w += layers_[i].k_width + layers_[i].v_width;
    return w * page_size() * std::int64_t(sizeof(T));
  }
  /// Bytes of backend memory the pool holds.
  std::int64_t bytes() const {
    std::int64_t b = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) b += groups_[g].capacity * page_bytes(g);
    return b;
  }

 private:
  struct Group {
    cfg::Mixer keep;
    int window;
    std::vector<std::size_t> layers;
    std::vector<int> refs;   // per page id
    std::vector<int> free;   // page ids, popped from the back
    std::int64_t capacity = 0;
  };
  struct Layer {
    int group = 0;
    std::int64_t k_width = 0, v_width = 0;
    typename B::template Buffer<T> k, v;
  };

  /// The first position a query at position >= length can see in this group.
  static std::int64_t first_needed(const Group& g, std::int64_t length) {
    return g.keep == cfg::Mixer::full ? 0 : first_visible_key(g.keep, g.window, length);
  }
  std::int64_t keep_from_after(const Group& g, std::int64_t length) const {
    if (g.keep == cfg::Mixer::full) return 0;
    return std::max<std::int64_t>(0, first_needed(g, length) - options_.rollback);
  }
  static std::string window_name(const Group& g) {
    return (g.keep == cfg::Mixer::sliding ? "sliding-window (" : "chunked (") + std::to_string(g.window) + ")";
  }
  void check_own(const Sequence& s) const {
    if (s.pool_ != this) throw InvalidInput("templlm: a sequence from another KV pool");
  }

  int allocate(std::size_t g) {
    Group& grp = groups_[g];
    if (grp.free.empty()) grow(g);
    const int id = grp.free.back();
    grp.free.pop_back();
    grp.refs[std::size_t(id)] = 1;
    return id;
  }
  void unref(std::size_t g, int id) {
    if (id < 0) return;
    if (--groups_[g].refs[std::size_t(id)] == 0) groups_[g].free.push_back(id);
  }
  void release(Sequence& s) {
    for (std::size_t g = 0; g < groups_.size(); ++g)
      for (int id : s.tables_[g]) unref(g, id);
    s.tables_.assign(groups_.size(), {});
  }
  /// Doubles group g's storage (at least 4 pages), keeping contents: page ids stay valid.
  void grow(std::size_t g) {
    Group& grp = groups_[g];
    std::int64_t next = std::max<std::int64_t>(4, grp.capacity * 2);
    if (options_.max_pages > 0) next = std::min(next, options_.max_pages);
    if (next <= grp.capacity)
      throw InvalidInput("templlm: the KV pool is full: " + std::to_string(grp.capacity) + " pages of " +
                         std::to_string(page_size()) + " positions in use (KvPoolOptions::max_pages)");
    for (std::size_t i : grp.layers) {
      Layer& l = layers_[i];
      be_.grow(l.k, std::size_t((next << shift_) * l.k_width));
      if (l.v_width > 0) be_.grow(l.v, std::size_t((next << shift_) * l.v_width));
    }
    grp.refs.resize(std::size_t(next), 0);
    for (std::int64_t id = next - 1; id >= grp.capacity; --id) grp.free.push_back(int(id));
    grp.capacity = next;
  }
  void copy_page(std::size_t g, int from, int to) {
    const std::int64_t rows = page_size();
    for (std::size_t i : groups_[g].layers) {
      Layer& l = layers_[i];
      auto copy = [&](auto& buf, std::int64_t width) {
        MatrixView<T, Space> all(buf.data(), groups_[g].capacity << shift_, width);
        be_.copy(all.row_range(std::int64_t(to) << shift_, rows),
                 MatrixView<const T, Space>(all.row_range(std::int64_t(from) << shift_, rows)));
      };
      copy(l.k, l.k_width);
      if (l.v_width > 0) copy(l.v, l.v_width);
    }
  }

  B& be_;
  KvPoolOptions options_;
  int shift_ = 0;
  std::vector<Group> groups_;
  std::vector<Layer> layers_;
};

}  // namespace templlm::layers
