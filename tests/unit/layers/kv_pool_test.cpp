// SPDX-License-Identifier: Apache-2.0
// The paged KV pool's bookkeeping (layers/kv_pool.hpp): pages allocated as sequences grow,
// windows freeing pages, sharing with reference counts and copy on write, truncate, limits.
#include <gtest/gtest.h>

#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/layers/kv_pool.hpp>
#include <vector>

namespace templlm {
namespace {

using Pool = layers::KvPool<cpu::Backend>;
const std::vector<layers::KvLayerSpec> kFullAndSliding = {{4, 4, cfg::Mixer::full, 0},
                                                           {4, 4, cfg::Mixer::sliding, 6}};

void append(Pool& pool, Pool::Sequence& s, std::int64_t n) {
  pool.reserve(s, n);
  pool.commit(s, n);
}

TEST(KvPool, AllocatesPagesOnlyForTheTokensItHolds) {
  cpu::Backend be(1);
  Pool pool(be, std::vector<layers::KvLayerSpec>{{8, 8, cfg::Mixer::full, 0}}, {.page_size = 16});
  auto s = pool.new_sequence(1'000'000);
  EXPECT_EQ(pool.pages_in_use(), 0);
  EXPECT_EQ(pool.bytes(), 0);  // a million-token context costs nothing up front
  append(pool, *s, 17);
  EXPECT_EQ(pool.pages_in_use(), 2);
  EXPECT_EQ(s->pages_held(), 2);
  append(pool, *s, 15);
  EXPECT_EQ(pool.pages_in_use(), 2);  // 32 positions, still two pages
  append(pool, *s, 1);
  EXPECT_EQ(pool.pages_in_use(), 3);
  EXPECT_EQ(pool.page_bytes(0), 16 * (8 + 8) * 4);
  s.reset();  // a finished sequence gives its pages back
  EXPECT_EQ(pool.pages_in_use(), 0);
}

TEST(KvPool, SlidingLayersFreeThePagesThatLeaveTheWindow) {
  cpu::Backend be(1);
  Pool pool(be, kFullAndSliding, {.page_size = 4, .max_pages = 0, .rollback = 0});
  ASSERT_EQ(pool.groups(), 2u);
  const auto full = std::size_t(pool.group_of(0)), sliding = std::size_t(pool.group_of(1));
  auto s = pool.new_sequence(1000);
  for (int i = 0; i < 100; ++i) append(pool, *s, 1);
  EXPECT_EQ(pool.pages_in_use(full), 25);
  // The next query (position 100) sees 95..100: pages [92, 96) and [96, 100) stay.
  EXPECT_EQ(pool.pages_in_use(sliding), 2);
  const auto table = pool.table(*s, sliding);
  EXPECT_LT(table[22], 0);
  EXPECT_GE(table[23], 0);
  EXPECT_GE(table[24], 0);
}

TEST(KvPool, ForkSharesPagesAndTheFirstWriteCopiesTheSharedPage) {
  cpu::Backend be(1);
  Pool pool(be, std::vector<layers::KvLayerSpec>{{2, 2, cfg::Mixer::full, 0}}, {.page_size = 4});
  auto a = pool.new_sequence(100);
  pool.reserve(*a, 6);
  // Position p holds the value p in every element, written through the pages.
  auto write = [&](Pool::Sequence& s, std::int64_t from, std::int64_t n, float base) {
    const auto pages = pool.layer(0);
    const auto table = pool.table(s, 0);
    for (std::int64_t p = from; p < from + n; ++p) {
      const std::int64_t slot = std::int64_t(table[std::size_t(p / 4)]) * 4 + p % 4;
      pages.k[slot * 2] = pages.k[slot * 2 + 1] = base + float(p);
    }
  };
  auto read = [&](Pool::Sequence& s, std::int64_t p) {
    const auto table = pool.table(s, 0);
    return pool.layer(0).k[(std::int64_t(table[std::size_t(p / 4)]) * 4 + p % 4) * 2];
  };
  write(*a, 0, 6, 0.0f);
  pool.commit(*a, 6);
  auto b = pool.fork(*a);
  EXPECT_EQ(pool.pages_in_use(), 2);
  EXPECT_EQ(pool.table(*a, 0)[1], pool.table(*b, 0)[1]);
  pool.reserve(*b, 3);  // writes positions 6..8: page 1 is shared, so b gets a copy
  EXPECT_NE(pool.table(*a, 0)[1], pool.table(*b, 0)[1]);
  EXPECT_EQ(pool.table(*a, 0)[0], pool.table(*b, 0)[0]);  // page 0 stays shared
  EXPECT_EQ(read(*b, 5), 5.0f);                            // the copy has the prefix
  write(*b, 6, 3, 100.0f);
  pool.commit(*b, 3);
  EXPECT_EQ(pool.pages_in_use(), 4);  // shared page 0, a's page 1, b's copy and b's page 2
  pool.reserve(*a, 2);                // a's page 1 is its own again: written in place
  write(*a, 6, 2, 200.0f);
  pool.commit(*a, 2);
  EXPECT_EQ(read(*a, 6), 206.0f);
  EXPECT_EQ(read(*b, 6), 106.0f);
  EXPECT_EQ(read(*b, 2), 2.0f);
  a.reset();
  EXPECT_EQ(pool.pages_in_use(), 3);  // page 0 lives on in b
}

TEST(KvPool, TruncateFreesPagesAndRefusesToStepBackPastFreedWindowPages) {
  cpu::Backend be(1);
  Pool pool(be, kFullAndSliding, {.page_size = 4, .max_pages = 0, .rollback = 4});
  auto s = pool.new_sequence(1000);
  append(pool, *s, 40);
  const auto full = std::size_t(pool.group_of(0));
  EXPECT_EQ(pool.pages_in_use(full), 10);
  pool.truncate(*s, 37);  // within window + rollback
  EXPECT_EQ(s->length(), 37);
  EXPECT_EQ(pool.pages_in_use(full), 10);
  pool.truncate(*s, 33);
  EXPECT_EQ(pool.pages_in_use(full), 9);
  // Back to 10 tokens would need positions 5..9 of the sliding layer: freed long ago.
  try {
    pool.truncate(*s, 10);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("sliding-window (6)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s->length(), 33);  // a refused truncate changes nothing
  EXPECT_THROW(pool.truncate(*s, 34), InvalidInput);
}

TEST(KvPool, LimitsAreErrorsWithNumbers) {
  cpu::Backend be(1);
  EXPECT_THROW(Pool(be, kFullAndSliding, {.page_size = 12}), InvalidInput);  // not a power of two
  Pool pool(be, kFullAndSliding, {.page_size = 4, .max_pages = 4, .rollback = 0});
  auto s = pool.new_sequence(20);
  EXPECT_THROW(pool.new_sequence(0), InvalidInput);
  append(pool, *s, 16);
  try {
    pool.reserve(*s, 1);  // a fifth page of the full layer
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("KV pool is full"), std::string::npos) << e.what();
  }
  auto t = pool.new_sequence(3);
  EXPECT_THROW(pool.reserve(*t, 4), InvalidInput);  // beyond its context
  Pool other(be, kFullAndSliding);
  EXPECT_THROW(other.fork(*t), InvalidInput);  // a sequence of another pool
}

TEST(KvPool, GrowingTheStorageKeepsWhatIsCached) {
  cpu::Backend be(1);
  Pool pool(be, std::vector<layers::KvLayerSpec>{{1, 0, cfg::Mixer::full, 0}}, {.page_size = 2});
  auto s = pool.new_sequence(1000);
  for (int p = 0; p < 64; ++p) {  // 32 pages: the storage doubles from 4 pages to 32
    pool.reserve(*s, 1);
    const auto table = pool.table(*s, 0);
    pool.layer(0).k[std::int64_t(table[std::size_t(p / 2)]) * 2 + p % 2] = float(p);
    pool.commit(*s, 1);
  }
  EXPECT_EQ(pool.pages_allocated(0), 32);
  const auto table = pool.table(*s, 0);
  for (int p = 0; p < 64; ++p)
    EXPECT_EQ(pool.layer(0).k[std::int64_t(table[std::size_t(p / 2)]) * 2 + p % 2], float(p)) << p;
}

}  // namespace
}  // namespace templlm
