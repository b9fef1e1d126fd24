// SPDX-License-Identifier: Apache-2.0
// The generator's text handling with a real tokenizer and a scripted model (its logits pick a
// fixed continuation): stop strings across token boundaries, streaming, cancellation, stop
// reasons, context limits.
#include <gtest/gtest.h>

#include <templlm/runtime/generator.hpp>

namespace templlm::runtime {
namespace {

const tokenizer::Tokenizer& mistral() {
  static const auto t = tokenizer::Tokenizer::from_folder(std::filesystem::path(TEMPLLM_TEST_DATA_DIR) /
                                                          "tokenizers" / "mistral");
  return t;
}

/// Emits `script` after any prompt (position p of the continuation = script[p], then repeats
/// the last one); or, with `flat`, equal logits for every token.
class ScriptedModel final : public AnyModel {
 public:
  ScriptedModel(std::int64_t vocab, std::vector<int> script, bool flat = false)
      : vocab_(vocab), script_(std::move(script)), flat_(flat) {}
  std::string_view name() const override { return "scripted"; }
  std::int64_t vocab() const override { return vocab_; }
  std::vector<float> score(std::span<const int>, bool, layers::ExpertTrace*, HostEmbeddings) override { return {}; }

  struct Seq final : Sequence {
    std::int64_t len = 0, max = 0, prompt = -1;
    std::int64_t length() const override { return len; }
    std::int64_t max_context() const override { return max; }
  };
  std::unique_ptr<Sequence> new_sequence(std::int64_t max_context) override {
    auto s = std::make_unique<Seq>();
    s->max = max_context;
    return s;
  }
  void step(std::span<const Step> steps, std::span<float> logits) override {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto& s = static_cast<Seq&>(*steps[i].seq);
      if (s.len + std::int64_t(steps[i].ids.size()) > s.max) throw InvalidInput("overflow");
      if (s.prompt < 0) s.prompt = std::int64_t(steps[i].ids.size());
      s.len += std::int64_t(steps[i].ids.size());
      auto row = logits.subspan(i * std::size_t(vocab_), std::size_t(vocab_));
      std::fill(row.begin(), row.end(), 0.0f);
      if (flat_) continue;
      const auto p = std::size_t(s.len - s.prompt);
      row[std::size_t(script_[std::min(p, script_.size() - 1)])] = 10.0f;
    }
  }

 private:
  std::int64_t vocab_;
  std::vector<int> script_;
  bool flat_;
};

std::vector<int> ids(const std::string& text) {
  const auto e = mistral().encode(text);
  return {e.begin(), e.end()};
}

struct Streamed {
  std::string text;
  std::vector<std::string> pieces;
  StreamCallback cb() {
    return [this](int, std::string_view piece) {
      text += piece;
      pieces.emplace_back(piece);
      return true;
    };
  }
};

TEST(Generator, StreamsTheDecodedText) {
  const std::string want = "Hello world, this is a test of the generator.";
  ScriptedModel m(std::int64_t(mistral().vocab_size()), ids(want));
  Streamed s;
  GenerateOptions o;
  o.max_tokens = int(ids(want).size());
  auto r = generate(m, ids("Say:"), o, s.cb(), &mistral());
  EXPECT_EQ(r.stop, StopReason::max_tokens);
  EXPECT_EQ(r.text, mistral().decode(std::vector<std::uint32_t>(r.tokens.begin(), r.tokens.end()), true));
  EXPECT_EQ(s.text, r.text);
  EXPECT_EQ(r.tokens.size(), std::size_t(o.max_tokens));
  EXPECT_NE(r.text.find("generator"), std::string::npos);
}

TEST(Generator, StopStringAcrossTokenBoundariesIsNotEmitted) {
  const std::string cont = "The answer is forty-two. END OF ANSWER and more text";
  const auto script = ids(cont);
  ScriptedModel m(std::int64_t(mistral().vocab_size()), script);
  GenerateOptions o;
  o.max_tokens = 100;
  o.stop_strings = {"END OF ANSWER"};
  // the stop string really spans several tokens
  ASSERT_GT(ids(" END OF ANSWER").size(), 2u);
  Streamed s;
  auto r = generate(m, ids("Q:"), o, s.cb(), &mistral());
  EXPECT_EQ(r.stop, StopReason::stop_string);
  EXPECT_EQ(r.text, mistral().decode(std::vector<std::uint32_t>(script.begin(), script.end())).substr(
                        0, cont.find("END")));
  EXPECT_EQ(s.text, r.text);
  for (const auto& p : s.pieces) EXPECT_EQ(p.find("END"), std::string::npos) << p;
  EXPECT_LT(r.tokens.size(), script.size());
}

TEST(Generator, HeldBackPrefixIsReleasedWhenItIsNotAStop) {
  // "EN" starts the stop string but "ENGLISH" is not it: the text comes out whole.
  const std::string cont = "ENGLISH text ENDS here";
  ScriptedModel m(std::int64_t(mistral().vocab_size()), ids(cont));
  GenerateOptions o;
  o.max_tokens = int(ids(cont).size());
  o.stop_strings = {"ENDX"};
  Streamed s;
  auto r = generate(m, ids("Q:"), o, s.cb(), &mistral());
  EXPECT_EQ(r.stop, StopReason::max_tokens);
  EXPECT_EQ(r.text, mistral().decode(std::vector<std::uint32_t>(r.tokens.begin(), r.tokens.end()), true));
  EXPECT_EQ(s.text, r.text);
}

TEST(Generator, StopsOnEos) {
  auto script = ids("short reply");
  ASSERT_TRUE(mistral().eos_id().has_value());
  const int eos = int(*mistral().eos_id());
  script.push_back(eos);
  ScriptedModel m(std::int64_t(mistral().vocab_size()), script);
  GenerateOptions o;
  o.max_tokens = 50;
  auto r = generate(m, ids("Q:"), o, {}, &mistral());
  EXPECT_EQ(r.stop, StopReason::eos);
  EXPECT_EQ(r.tokens.back(), eos);
  EXPECT_EQ(r.tokens.size(), script.size());
  EXPECT_EQ(r.text, mistral().decode(std::vector<std::uint32_t>(script.begin(), script.end() - 1), true));
}

TEST(Generator, StopsOnUserStopIdAtIdLevel) {
  ScriptedModel m(100, {5, 6, 7, 8, 9});
  GenerateOptions o;
  o.max_tokens = 50;
  o.stop_ids = {8};
  auto r = generate(m, {1, 2, 3}, o);
  EXPECT_EQ(r.stop, StopReason::eos);
  EXPECT_EQ(r.tokens, (std::vector<int>{5, 6, 7, 8}));
  EXPECT_EQ(r.prompt_tokens, 3);
}

TEST(Generator, CallbackCancels) {
  ScriptedModel m(100, {5, 6, 7, 8, 9});
  GenerateOptions o;
  o.max_tokens = 50;
  int calls = 0;
  auto r = generate(m, {1}, o, [&](int, std::string_view) { return ++calls < 3; });
  EXPECT_EQ(r.stop, StopReason::cancelled);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.tokens, (std::vector<int>{5, 6, 7}));
}

TEST(Generator, ContextExhaustedIsAStopReason) {
  ScriptedModel m(100, {5, 6, 7, 8, 9});
  GenerateOptions o;
  o.max_tokens = 50;
  o.max_context = 6;  // 3 prompt + 3 fed tokens; the 4th sampled token cannot be fed
  auto r = generate(m, {1, 2, 3}, o);
  EXPECT_EQ(r.stop, StopReason::context_exhausted);
  EXPECT_EQ(r.tokens, (std::vector<int>{5, 6, 7, 8}));
}

TEST(Generator, PromptLongerThanTheContextIsAnError) {
  ScriptedModel m(100, {5});
  GenerateOptions o;
  o.max_context = 2;
  Engine e(m);
  EXPECT_THROW(e.add({1, 2, 3}, o), InvalidInput);
  EXPECT_THROW(e.add({}, o), InvalidInput);
  GenerateOptions s;
  s.stop_strings = {"x"};
  EXPECT_THROW(e.add({1}, s), InvalidInput);  // stop strings need a tokenizer
}

TEST(Generator, SeededSamplingIsReproducibleAndBatchIndependent) {
  ScriptedModel m(50, {0}, /*flat=*/true);
  GenerateOptions o;
  o.max_tokens = 30;
  o.sampling = {.temperature = 1.0f, .seed = 1234};
  const auto a = generate(m, {1, 2}, o).tokens;
  EXPECT_EQ(generate(m, {1, 2}, o).tokens, a);
  // same request next to another one in the batch
  Engine e(m);
  GenerateOptions other = o;
  other.sampling.seed = 99;
  e.add({3, 4, 5}, other);
  const int h = e.add({1, 2}, o);
  e.run();
  EXPECT_EQ(e.result(h).tokens, a);
  o.sampling.seed = 1235;
  EXPECT_NE(generate(m, {1, 2}, o).tokens, a);
}

TEST(Generator, LogprobsWhenAsked) {
  ScriptedModel m(4, {2});
  GenerateOptions o;
  o.max_tokens = 2;
  o.logprobs = true;
  auto r = generate(m, {1}, o);
  ASSERT_EQ(r.logprobs.size(), 2u);
  // logits [0, 0, 10, 0]
  EXPECT_NEAR(r.logprobs[0], 10.0 - std::log(std::exp(10.0) + 3.0), 1e-5);
}

}  // namespace
}  // namespace templlm::runtime
