// SPDX-License-Identifier: Apache-2.0
// serve::Scheduler (continuous batching on its own thread): requests submitted from several
// threads at once each get exactly what runtime::generate gives them alone; a cancelled stream
// stops and frees its pages; a full queue and a bad request are refused at submit. Also run
// under ThreadSanitizer in CI.
#include <gtest/gtest.h>

#include <thread>

#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/registry.hpp>
#include <templlm/serve/scheduler.hpp>

#include "support/fixture.hpp"

namespace templlm::test {
namespace {

using Tiny = TypeList<model::Qwen3MoeTiny>;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = runtime::load_model(Tiny{}, be_, model_dir("qwen3-moe-tiny"));
    prompt_ = read_json(model_dir("qwen3-moe-tiny") / "expected" / "greedy.json").at("prompt").get<std::vector<int>>();
  }
  static std::vector<int> drain(serve::Stream& s) {
    std::vector<int> ids;
    serve::Event e;
    while (s.next(e)) ids.push_back(e.token);
    return ids;
  }
  cpu::Backend be_{2};
  std::unique_ptr<runtime::AnyModel> model_;
  std::vector<int> prompt_;
};

TEST_F(SchedulerTest, RequestsFromManyThreadsEqualTheirSoloRuns) {
  std::vector<std::vector<int>> prompts;
  std::vector<runtime::GenerateOptions> opts;
  for (int i = 0; i < 8; ++i) {
    prompts.emplace_back(prompt_.begin() + i % 4, prompt_.end() - i % 3);
    runtime::GenerateOptions o;
    o.max_tokens = 6 + i;
    if (i % 2) o.sampling = {.temperature = 0.9f, .top_p = 0.9f, .seed = std::uint64_t(i)};
    opts.push_back(o);
  }
  std::vector<std::vector<int>> alone;
  for (std::size_t i = 0; i < prompts.size(); ++i) alone.push_back(runtime::generate(*model_, prompts[i], opts[i]).tokens);

  serve::Scheduler sched(*model_, nullptr, {.max_batch = 3, .max_queue = 64});
  std::vector<std::vector<int>> streamed(prompts.size()), results(prompts.size());
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    clients.emplace_back([&, i] {
      auto s = sched.submit(prompts[i], opts[i]);
      streamed[i] = drain(*s);
      results[i] = s->result().tokens;
    });
  for (auto& t : clients) t.join();
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(streamed[i], alone[i]) << "request " << i;
    EXPECT_EQ(results[i], alone[i]) << "request " << i;
  }
  const auto st = sched.stats();
  EXPECT_EQ(st.requests, prompts.size());
  EXPECT_EQ(st.finished, prompts.size());
  EXPECT_LE(st.last_batch, 3u);
}

TEST_F(SchedulerTest, ACancelledStreamStopsAndFreesItsPages) {
  serve::Scheduler sched(*model_, nullptr);
  runtime::GenerateOptions o;
  o.max_tokens = 200;
  auto s = sched.submit(prompt_, o);
  serve::Event e;
  ASSERT_TRUE(s->next(e));
  s->cancel();
  while (s->next(e)) {
  }
  EXPECT_EQ(s->result().stop, runtime::StopReason::cancelled);
  EXPECT_LT(s->result().tokens.size(), 200u);
  // The scheduler forgets a finished request before the next step: wait for its stats.
  for (int i = 0; i < 2000 && (sched.stats().cancelled == 0 || sched.stats().kv.pages_in_use != 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(sched.stats().cancelled, 1u);
  EXPECT_EQ(sched.stats().kv.pages_in_use, 0);
}

TEST_F(SchedulerTest, AFailedRequestEndsItsStreamAndOnlyTheResultThrows) {
  // A streaming writer loops on next() and asks for result() at the end: next() must not throw
  // (in the server an exception there escaped into the HTTP library and ended the process).
  std::shared_ptr<serve::Stream> running, queued;
  {
    serve::Scheduler sched(*model_, nullptr, {.max_batch = 1, .max_queue = 8});
    runtime::GenerateOptions o;
    o.max_tokens = 100000;
    o.max_context = 200;
    running = sched.submit(prompt_, o);
    queued = sched.submit(prompt_, o);
    serve::Event e;
    ASSERT_TRUE(running->next(e));
  }  // the scheduler shuts down: both end with its error
  for (auto* s : {running.get(), queued.get()}) {
    serve::Event e;
    bool ended = false;
    EXPECT_NO_THROW(while (s->next(e)) {} ended = true;);
    EXPECT_TRUE(ended);
    EXPECT_THROW((void)s->result(), Error);
  }
}

TEST_F(SchedulerTest, BadRequestsAndAFullQueueAreRefusedAtSubmit) {
  serve::Scheduler sched(*model_, nullptr, {.max_batch = 1, .max_queue = 0});
  runtime::GenerateOptions o;
  o.max_tokens = 2;
  EXPECT_THROW(sched.submit(prompt_, o), serve::QueueFull);
  serve::Scheduler open(*model_, nullptr);
  EXPECT_THROW(open.submit({}, o), InvalidInput);  // no tokens
  o.sampling.temperature = -1;
  EXPECT_THROW(open.submit(prompt_, o), InvalidInput);
  o.sampling.temperature = 0;
  EXPECT_THROW(open.submit(std::vector<int>(std::size_t(model_->context_limit() + 1), 1), o), InvalidInput);
}

}  // namespace
}  // namespace templlm::test
