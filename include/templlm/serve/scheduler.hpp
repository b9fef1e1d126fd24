// SPDX-License-Identifier: Apache-2.0
/// \file serve/scheduler.hpp
/// Continuous batching for a server: one scheduler thread owns a model context and steps a
/// runtime::Engine over every admitted request; other threads (HTTP handlers) submit requests
/// and read each one's Stream of tokens. A cancelled stream (a client that went away) stops its
/// request at the next step and frees its KV pages.
///
/// Thread safety: submit(), stats() and every Stream member may be called from any thread. The
/// model context and tokenizer must outlive the Scheduler and are used only by its thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../runtime/generator.hpp"
#include "histogram.hpp"
#include "prefix_cache.hpp"

namespace templlm::serve {

/// submit() when max_queue requests already wait for a batch slot (a server answers 503).
class QueueFull : public Error {
 public:
  using Error::Error;
};

/// One generated token and the text it made final (possibly empty).
struct Event {
  int token = -1;
  std::string text;
  float logprob = 0;                        // when the request asked for logprobs
  std::vector<std::pair<int, float>> top;   // when it asked for top_logprobs
};

/// One request's output, filled by the scheduler thread, read by the submitter.
class Stream {
 public:
  /// Blocks until the next token or the end; returns false at the end, after which result()
  /// holds the whole generation or rethrows the request's error. Never throws itself, so a
  /// streaming writer learns of a failure only where it asks for the result.
  bool next(Event& e) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return !events_.empty() || finished_; });
    if (events_.empty()) return false;
    e = std::move(events_.front());
    events_.pop_front();
    return true;
  }
  /// Stops the request at its next token (idempotent; a finished one is unaffected).
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  /// After next() returned false.
  const runtime::GenerationResult& result() const {
    std::lock_guard lock(m_);
    if (error_) std::rethrow_exception(error_);
    return result_;
  }
  /// The prompt's tokens as the model reads them (an image prompt laid out), once admitted;
  /// `before` until then.
  std::int64_t prompt_tokens(std::int64_t before) const {
    std::lock_guard lock(m_);
    return prompt_tokens_ > 0 ? prompt_tokens_ : before;
  }
  /// Seconds from submit() to the first token (0 until there is one).
  double time_to_first_token() const {
    std::lock_guard lock(m_);
    return ttft_;
  }

 private:
  friend class Scheduler;
  void push(Event e) {
    {
      std::lock_guard lock(m_);
      if (events_pushed_++ == 0)
        ttft_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted_).count();
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  void finish(runtime::GenerationResult r, std::exception_ptr err = nullptr) {
    {
      std::lock_guard lock(m_);
      result_ = std::move(r);
      error_ = err;
      finished_ = true;
    }
    cv_.notify_all();
  }

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
  runtime::GenerationResult result_;
  std::exception_ptr error_;
  std::chrono::steady_clock::time_point submitted_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_event_;  // the scheduler thread's only
  std::size_t events_pushed_ = 0;
  double ttft_ = 0;
  std::int64_t prompt_tokens_ = 0;
};

struct SchedulerOptions {
  std::size_t max_batch = 16;   // requests stepped together
  std::size_t max_queue = 256;  // requests waiting for a batch slot before submit() refuses
  std::size_t prefix_cache = 0;  // finished requests' caches kept for later prompts (0: off)
};

/// Counters for /metrics (a snapshot).
struct SchedulerStats {
  std::uint64_t requests = 0, finished = 0, cancelled = 0, failed = 0;
  std::uint64_t prompt_tokens = 0, generated_tokens = 0, steps = 0;
  std::size_t queued = 0, running = 0, last_batch = 0;
  runtime::KvUsage kv;
  Histogram time_to_first_token, inter_token_latency;  // seconds
  PrefixCacheStats prefix;
};

class Scheduler {
 public:
  Scheduler(runtime::AnyModel& model, const tokenizer::Tokenizer* tok, SchedulerOptions o = {})
      : model_(model), tok_(tok), has_tokenizer_(tok != nullptr), engine_(model, tok), o_(o), cache_(o.prefix_cache) {
    if (o_.max_batch == 0) throw InvalidInput("templlm: serve: max_batch must be >= 1");
    thread_ = std::thread([this] { loop(); });
  }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  /// Stops the thread; requests still queued or running end with an error.
  ~Scheduler() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  /// Queues a request. Checks it first (runtime::Engine::check: the prompt, the sampling
  /// parameters, the model's context) and throws InvalidInput, or QueueFull when max_queue
  /// requests already wait. `images`: decoded images for the prompt's image placeholders, laid
  /// out and encoded by the scheduler's thread when the request is admitted (an error there,
  /// such as a prompt the images make longer than the context, ends the stream with it).
  std::shared_ptr<Stream> submit(std::vector<int> prompt, runtime::GenerateOptions opt,
                                 std::vector<io::Image> images = {}) {
    if (!images.empty() && !tok_) throw InvalidInput("templlm: serve: images need a tokenizer");
    const std::int64_t context = runtime::Engine::check(prompt, opt, model_.context_limit(), has_tokenizer_);
    auto s = std::make_shared<Stream>();
    {
      std::lock_guard lock(m_);
      if (queue_.size() >= o_.max_queue)
        throw QueueFull("templlm: serve: " + std::to_string(queue_.size()) +
                        " requests are already waiting (--max-queue); try again later");
      ++stats_.requests;
      stats_.prompt_tokens += prompt.size();
      queue_.push_back({std::move(prompt), std::move(opt), s, context, std::move(images)});
    }
    cv_.notify_all();
    return s;
  }

  SchedulerStats stats() const {
    std::lock_guard lock(m_);
    SchedulerStats s = stats_;
    s.queued = queue_.size();
    return s;
  }

 private:
  struct Job {
    std::vector<int> prompt;
    runtime::GenerateOptions opt;
    std::shared_ptr<Stream> stream;
    std::int64_t context = 0;  // the sequence's context, from submit's check
    std::vector<io::Image> images;
  };

  void loop() {
    std::vector<std::pair<int, std::shared_ptr<Stream>>> active;
    while (true) {
      std::vector<Job> admitted;
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty() || !active.empty(); });
        if (stop_) break;
        while (!queue_.empty() && active.size() + admitted.size() < o_.max_batch) {
          admitted.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      for (Job& j : admitted) {
        if (j.stream->cancelled()) {
          count([](SchedulerStats& s) { ++s.cancelled; });
          j.stream->finish({});
          continue;
        }
        try {
          std::int64_t reused = 0;
          std::unique_ptr<runtime::Sequence> start;
          std::optional<vision::ImagePrompt> with_images;
          if (!j.images.empty()) {
            with_images = model_.image_prompt(j.prompt, j.images, *tok_);
            j.images.clear();
            // The expanded prompt must fit the context the check at submit gave (it counted
            // one token per image): recheck with the real ids.
            j.context = runtime::Engine::check(with_images->ids, j.opt, model_.context_limit(), has_tokenizer_);
          }
          if (o_.prefix_cache > 0) {
            if (with_images) {  // reusable: the prefix before the first image token only
              const auto first = runtime::Engine::first_image_row(*with_images);
              const std::vector<int> head(with_images->ids.begin(), with_images->ids.begin() + first + 1);
              start = cache_.lookup(model_, head, j.context, reused);
            } else {
              start = cache_.lookup(model_, j.prompt, j.context, reused);
            }
          }
          Stream* s = j.stream.get();
          {
            std::lock_guard lock(s->m_);
            s->prompt_tokens_ = std::int64_t(with_images ? with_images->ids.size() : j.prompt.size());
          }
          // The engine calls on_token only from step(), after add() has returned the handle.
          auto handle = std::make_shared<int>(-1);
          auto on_token = [this, s, handle](int tok, std::string_view text) {
            const auto now = std::chrono::steady_clock::now();
            const bool first = s->events_pushed_ == 0;  // written by this thread only
            const double dt = std::chrono::duration<double>(now - (first ? s->submitted_ : s->last_event_)).count();
            s->last_event_ = now;
            count([&](SchedulerStats& st) { (first ? st.time_to_first_token : st.inter_token_latency).observe(dt); });
            Event e{tok, std::string(text), 0.0f, {}};
            if (*handle >= 0) {
              const runtime::GenerationResult& r = engine_.result(*handle);
              if (!r.logprobs.empty()) e.logprob = r.logprobs.back();
              if (!r.top_logprobs.empty()) e.top = r.top_logprobs.back();
            }
            s->push(std::move(e));
            return !s->cancelled();
          };
          const int h = with_images ? engine_.add_with_images(std::move(*with_images), std::move(j.opt), on_token, std::move(start))
                                    : engine_.add(std::move(j.prompt), std::move(j.opt), on_token, std::move(start));
          *handle = h;
          active.emplace_back(h, std::move(j.stream));
        } catch (...) {
          count([](SchedulerStats& s) { ++s.failed; });
          j.stream->finish({}, std::current_exception());
        }
      }
      if (active.empty()) continue;
      try {
        engine_.step();
      } catch (...) {  // a failed step fails the whole batch, with the step's error
        const auto err = std::current_exception();
        count([&](SchedulerStats& st) { st.failed += active.size(); });
        for (auto& [h, s] : active) {
          s->finish({}, err);
          engine_.forget(h);
        }
        active.clear();
        continue;
      }
      const std::size_t batch = active.size();
      std::size_t generated = 0;
      for (auto it = active.begin(); it != active.end();) {
        ++generated;
        if (!engine_.done(it->first)) {
          ++it;
          continue;
        }
        runtime::GenerationResult r = engine_.result(it->first);
        const bool cancelled = r.stop == runtime::StopReason::cancelled;
        if (cancelled || o_.prefix_cache == 0) {
          engine_.forget(it->first);  // frees its pages now
        } else {
          auto kept = engine_.forget_keeping_cache(it->first);
          cache_.insert(std::move(kept.tokens), std::move(kept.seq));
        }
        // Counted before the stream ends: a client that saw its result also sees it counted.
        count([&](SchedulerStats& s) { ++(cancelled ? s.cancelled : s.finished); });
        it->second->finish(std::move(r));
        it = active.erase(it);
      }
      const runtime::KvUsage kv = model_.kv_usage();
      const PrefixCacheStats prefix = cache_.stats();
      count([&](SchedulerStats& s) {
        s.prefix = prefix;
        ++s.steps;
        s.generated_tokens += generated;
        s.last_batch = batch;
        s.running = active.size();
        s.kv = kv;
      });
    }
    // Shutting down: nothing more will run.
    const auto err = std::make_exception_ptr(Error("templlm: serve: the server is shutting down"));
    for (auto& [h, s] : active) s->finish({}, err);
    std::lock_guard lock(m_);
    for (Job& j : queue_) j.stream->finish({}, err);
    queue_.clear();
  }

  template <class F>
  void count(F&& f) {
    std::lock_guard lock(m_);
    f(stats_);
  }

  runtime::AnyModel& model_;
  const tokenizer::Tokenizer* tok_;
  bool has_tokenizer_;
  runtime::Engine engine_;  // used by thread_ only
  SchedulerOptions o_;
  PrefixCache cache_;  // thread_ only
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  SchedulerStats stats_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after every member above exists
};

}  // namespace templlm::serve
