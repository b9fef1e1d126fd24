// SPDX-License-Identifier: Apache-2.0
/// \file core/thread_pool.hpp
/// A small fixed thread pool for the CPU backend. parallel_for splits [0, n) into contiguous
/// ranges, one per worker; the split depends only on n and the thread count, and every output
/// element is produced by exactly one range, so results do not depend on scheduling.
///
/// Waiting spins for a short while (spin_for) before it sleeps on a condition variable: a decode
/// step is hundreds of parallel_for calls microseconds apart, and a futex wake per call cost
/// more than the work (2 threads decoded slower than 1). Thread-safe: one parallel_for at a time
/// per pool (a pool belongs to one context).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "error.hpp"

namespace templlm {

/// The grain (a multiple of `unit`) that gives every part of a parallel_for at least `min_work`
/// multiply-adds when one item costs `item_work` of them. Waking a worker and waiting for it
/// costs microseconds (much more when the other cores are busy), so smaller parts run faster on
/// the calling thread: a 1M-parameter model decoded 8x slower on 2 threads than on 1 without it.
/// Results do not change: every output still comes from one range, cut at multiples of `unit`.
constexpr std::int64_t grain_for_work(std::int64_t item_work, std::int64_t unit = 1,
                                      std::int64_t min_work = std::int64_t{1} << 16) {
  const std::int64_t items = (min_work + std::max<std::int64_t>(item_work, 1) - 1) /
                             std::max<std::int64_t>(item_work, 1);
  return (std::max<std::int64_t>(items, 1) + unit - 1) / unit * unit;
}

class ThreadPool {
 public:
  static constexpr unsigned max_threads = 1024;

  /// threads = 0: one per hardware thread. More than max_threads is an InvalidInput; a thread
  /// the system refuses to start is an Error, after the ones already started have been joined
  /// (a half-built pool must not be left with running workers).
  explicit ThreadPool(unsigned threads = 0) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    if (threads > max_threads)
      throw InvalidInput("templlm: a thread pool of " + std::to_string(threads) + " threads; at most " +
                         std::to_string(max_threads));
    size_ = threads;
    try {
      for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
    } catch (const std::system_error& e) {
      stop();
      throw Error("templlm: could not start worker thread " + std::to_string(workers_.size() + 1) + " of " +
                  std::to_string(threads) + ": " + e.what());
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() { stop(); }

  unsigned size() const { return size_; }

  /// Calls fn(begin, end) over a partition of [0, n) into at most size() ranges whose length is
  /// a multiple of `grain` (except the last). Blocks until all are done; rethrows the first error.
  void parallel_for(std::int64_t n, std::int64_t grain,
                    const std::function<void(std::int64_t, std::int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<std::int64_t>(grain, 1);
    const std::int64_t chunks = (n + grain - 1) / grain;
    const std::int64_t parts = std::min<std::int64_t>(size_, chunks);
    if (parts <= 1) {
      fn(0, n);
      return;
    }
    const std::int64_t per = (chunks + parts - 1) / parts * grain;
    std::unique_lock lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    job_per_ = per;
    job_parts_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);  // publishes the job to spinning workers
    lock.unlock();
    wake_.notify_all();
    run_part(0);
    spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; });
    lock.lock();
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

  /// How long a worker (or the caller) spins before it sleeps.
  static constexpr std::chrono::microseconds spin_for{200};

 private:
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }
  void run_part(std::int64_t part) {
    const std::int64_t begin = part * job_per_;
    const std::int64_t end = std::min(job_n_, begin + job_per_);
    if (begin >= end) return;
    try {
      (*job_)(begin, end);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  /// Spins until ready() or spin_for has passed (the clock read every 256 tries).
  template <class Ready>
  static void spin_until(Ready ready) {
    const auto until = std::chrono::steady_clock::now() + spin_for;
    for (unsigned i = 1; !ready(); ++i)
      if (i % 256 == 0 && std::chrono::steady_clock::now() > until) return;
  }

  void work(unsigned index) {
    std::uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(); });
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
      if (index >= job_parts_) continue;
      lock.unlock();
      run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        lock.lock();  // under the lock: the caller checks pending_ under it before it sleeps
        done_.notify_one();
      }
    }
  }

  unsigned size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<bool> stop_ = false;
  std::atomic<std::uint64_t> generation_ = 0;
  const std::function<void(std::int64_t, std::int64_t)>* job_ = nullptr;
  std::int64_t job_n_ = 0, job_per_ = 0, job_parts_ = 0;
  std::atomic<std::int64_t> pending_ = 0;
  std::exception_ptr error_;
};

}  // namespace templlm
