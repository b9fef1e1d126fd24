// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
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
