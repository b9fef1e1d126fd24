// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/chat_test.cpp
/// Chat formats against the renders committed by tools/make_tokenizer_fixtures.py (transformers'
/// apply_chat_template on the real templates; openai-harmony for GPT-OSS), and reply parsing.
#include <gtest/gtest.h>

#include "templlm/tokenizer/chat/all.hpp"
#include "tokenizer_test_support.hpp"

namespace {

namespace chat = templlm::tokenizer::chat;

std::vector<chat::Message> messages_of(const nlohmann::json& r) {
  std::vector<chat::Message> out;
  for (const auto& m : r.at("messages"))
    out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  return out;
}

std::vector<nlohmann::json> renders(const std::string& family) {
  auto v = templlm::test::read_jsonl(templlm::test::tokenizer_dir("chat") / (family + ".jsonl"));
  EXPECT_FALSE(v.empty()) << family;
  return v;
}

TEST(ChatFormat, Qwen3MatchesJinja) {
  for (const auto& r : renders("qwen3")) {
    const auto& o = r.at("options");
    chat::Qwen3Chat c{.enable_thinking = o.value("enable_thinking", true)};
    EXPECT_EQ(c.render(messages_of(r), o.at("add_generation_prompt").get<bool>()),
              r.at("rendered").get<std::string>())
        << r.at("name") << " " << o.dump();
  }
}

TEST(ChatFormat, DeepSeekV3MatchesJinja) {
  for (const auto& r : renders("deepseek_v3")) {
    chat::DeepSeekChat c{.r1 = false};
    EXPECT_EQ(c.render(messages_of(r), r.at("options").at("add_generation_prompt").get<bool>()),
              r.at("rendered").get<std::string>())
        << r.at("name");
  }
}

TEST(ChatFormat, Llama3MatchesJinja) {
  for (const auto& r : renders("llama3_1")) {
    EXPECT_EQ(chat::Llama3Chat{}.render(messages_of(r),
                                        r.at("options").at("add_generation_prompt").get<bool>()),
              r.at("rendered").get<std::string>())
        << r.at("name");
  }
}

TEST(ChatFormat, HarmonyMatchesOpenAiRenderer) {
  for (const auto& r : renders("harmony")) {
    if (r.contains("stop")) {
      const auto stop = r.at("stop").get<std::vector<std::uint32_t>>();
      for (const auto id : stop)
        EXPECT_NE(
            std::find(chat::HarmonyChat::stop_ids.begin(), chat::HarmonyChat::stop_ids.end(), id),
            chat::HarmonyChat::stop_ids.end());
      continue;
    }
    const auto& o = r.at("options");
    const std::string effort = o.at("reasoning").get<std::string>();
    chat::HarmonyChat c;
    c.reasoning = effort == "low"    ? chat::HarmonyChat::Reasoning::low
                  : effort == "high" ? chat::HarmonyChat::Reasoning::high
                                     : chat::HarmonyChat::Reasoning::medium;
    c.date = o.at("date").get<std::string>();
    EXPECT_EQ(c.render(messages_of(r)), r.at("rendered").get<std::string>()) << r.at("name");
  }
}

TEST(ChatFormat, DeepSeekR1AndMistralAndLlama4FollowTheArchitectureNotes) {
  const std::vector<chat::Message> conv{
      {"system", "S"}, {"user", "u1"}, {"assistant", "<think>\nr\n</think>\n\na1"}, {"user", "u2"}};
  EXPECT_EQ(chat::DeepSeekChat{}.render(conv),
            "<\xEF\xBD\x9C"
            "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>S"
            "<\xEF\xBD\x9CUser\xEF\xBD\x9C>u1<\xEF\xBD\x9C"
            "Assistant\xEF\xBD\x9C>\n\na1"
            "<\xEF\xBD\x9C"
            "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"
            "<\xEF\xBD\x9CUser\xEF\xBD\x9C>u2<\xEF\xBD\x9C"
            "Assistant\xEF\xBD\x9C><think>\n");
  const std::vector<chat::Message> plain{
      {"system", "S"}, {"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}};
  EXPECT_EQ(chat::MistralChat{}.render(plain), "<s>[INST] S\n\nu1 [/INST]a1</s>[INST] u2 [/INST]");
  EXPECT_EQ(chat::MistralChat{.version = 3}.render(plain),
            "<s>[INST] u1[/INST] a1</s>[INST] S\n\nu2[/INST]");
  EXPECT_EQ(chat::Llama4Chat{}.render({{{"user", "hi"}}}),
            "<|begin_of_text|><|header_start|>user<|header_end|>\n\nhi<|eot|>"
            "<|header_start|>assistant<|header_end|>\n\n");
}

TEST(ChatParse, ThinkBlocks) {
  const auto r = chat::Qwen3Chat{}.parse("<think>\nstep 1\n</think>\n\nAnswer.<|im_end|>");
  EXPECT_EQ(r.reasoning, "step 1");
  EXPECT_EQ(r.content, "Answer.");
  EXPECT_TRUE(r.complete);
  // R1's prompt already opened the think block.
  const auto d = chat::DeepSeekChat{}.parse("hmm\n</think>\n\n42");
  EXPECT_EQ(d.reasoning, "hmm");
  EXPECT_EQ(d.content, "42");
  EXPECT_FALSE(d.complete);
  const auto unfinished = chat::Qwen3Chat{}.parse("<think>\nstill going");
  EXPECT_EQ(unfinished.reasoning, "still going");
  EXPECT_EQ(unfinished.content, "");
}

TEST(ChatParse, HarmonyChannels) {
  const auto r = chat::HarmonyChat{}.parse(
      "<|channel|>analysis<|message|>User asks 2+2.<|end|><|start|>assistant<|channel|>final"
      "<|message|>4<|return|>");
  ASSERT_EQ(r.channels.size(), 2u);
  EXPECT_EQ(r.channels[0].name, "analysis");
  EXPECT_EQ(r.reasoning, "User asks 2+2.");
  EXPECT_EQ(r.content, "4");
  EXPECT_TRUE(r.complete);
  const auto call =
      chat::HarmonyChat{}.parse("<|channel|>commentary json<|message|>{\"x\":1}<|call|>");
  ASSERT_EQ(call.channels.size(), 1u);
  EXPECT_EQ(call.channels[0].name, "commentary");
  EXPECT_TRUE(call.complete);
}

TEST(ChatParse, RenderedPromptsTokenizeToTheSpecialIds) {
  const auto& q = templlm::test::cached_tokenizer("qwen3");
  const auto ids = q.encode(chat::Qwen3Chat{}.render({{{"user", "hi"}}}));
  EXPECT_EQ(ids.front(), chat::Qwen3Chat::im_start);
  const auto& g = templlm::test::cached_tokenizer("gptoss");
  const auto gi = g.encode(chat::HarmonyChat{}.render({{{"user", "hi"}}}));
  EXPECT_EQ(gi.front(), chat::HarmonyChat::start);
  EXPECT_EQ(gi.back(), g.token_to_id("assistant").value());
}

}  // namespace
