// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <templlm/core/thread_pool.hpp>
#include <vector>

namespace {

TEST(ThreadPool, CoversEveryIndexOnceForManySizes) {
  templlm::ThreadPool pool(3);
  for (std::int64_t n : {1, 2, 3, 7, 64, 65, 1000}) {
    for (std::int64_t grain : {1, 4, 64}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      pool.parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
        for (auto i = b; i < e; ++i) hits[std::size_t(i)]++;
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, RethrowsAWorkerError) {
  templlm::ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(100, 1,
                                 [](std::int64_t b, std::int64_t) {
                                   if (b > 0) throw std::runtime_error("boom");
                                 }),
               std::runtime_error);
  // still usable afterwards
  std::atomic<int> n{0};
  pool.parallel_for(10, 1, [&](std::int64_t b, std::int64_t e) { n += int(e - b); });
  EXPECT_EQ(n.load(), 10);
}

}  // namespace

// Small jobs stay on the calling thread; big ones split at the unit.
TEST(ThreadPool, GrainGivesEveryPartEnoughWork) {
  using templlm::grain_for_work;
  EXPECT_EQ(grain_for_work(1 << 16), 1);
  EXPECT_EQ(grain_for_work(1 << 20, 64), 64);        // a 1M-MAC row: the unit alone
  EXPECT_EQ(grain_for_work(256, 64), 256);           // 256 rows of 256 MACs
  EXPECT_EQ(grain_for_work(200, 64), 384);           // 328 rows, rounded up to the unit
  EXPECT_EQ(grain_for_work(0), std::int64_t{1} << 16);  // free items: capped by count, not zero
  EXPECT_EQ(grain_for_work(10, 1, 100), 10);
  // A 64-row matrix of 128-wide rows: one part, so parallel_for calls fn once on this thread.
  templlm::ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(64, grain_for_work(128, 8), [&](std::int64_t b, std::int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 64);
  });
  EXPECT_EQ(calls, 1);
}

namespace templlm {
namespace {

TEST(ThreadPool, RefusesMoreThreadsThanItsBoundBeforeStartingAny) {
  // `--threads -1` once became 4294967295 threads, and the pool deadlocked unwinding when the
  // system refused one: the bound is checked first, with a sentence.
  EXPECT_THROW(ThreadPool(ThreadPool::max_threads + 1), InvalidInput);
  EXPECT_THROW(ThreadPool(4294967295u), InvalidInput);
  ThreadPool most(8);
  EXPECT_EQ(most.size(), 8u);
}

}  // namespace
}  // namespace templlm

// Workers spin between jobs, then sleep: thousands of back-to-back jobs (as a decode step makes),
// and jobs after the workers have gone to sleep, each run every part exactly once.
TEST(ThreadPool, BackToBackJobsAndJobsAfterASleepRunEveryPartOnce) {
  templlm::ThreadPool pool(3);
  std::int64_t total = 0;
  for (int job = 0; job < 5000; ++job) {
    std::atomic<std::int64_t> sum = 0;
    pool.parallel_for(30, 1, [&](std::int64_t b, std::int64_t e) {
      for (auto i = b; i < e; ++i) sum += i;
    });
    total += sum.load();
    if (job % 1000 == 999) std::this_thread::sleep_for(templlm::ThreadPool::spin_for * 5);
  }
  EXPECT_EQ(total, 5000 * (29 * 30 / 2));
}
