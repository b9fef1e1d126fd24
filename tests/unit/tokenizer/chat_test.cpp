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

/// Checks every record of chat/<family>.jsonl: the render for both generation-prompt settings, or,
/// for a conversation the template rejects, InvalidInput with the template's message. Returns the
/// number of rejected records.
template <class Format>
int expect_matches_fixture(const std::string& family, const Format& format) {
  int rejected = 0;
  for (const auto& r : renders(family)) {
    SCOPED_TRACE(family + " " + r.at("name").get<std::string>() + " " + r.at("options").dump());
    const auto messages = messages_of(r);
    const bool generation_prompt = r.at("options").at("add_generation_prompt").get<bool>();
    if (r.contains("error")) {
      ++rejected;
      try {
        (void)format.render(messages, generation_prompt);
        ADD_FAILURE() << "rendered a conversation the template rejects";
      } catch (const templlm::InvalidInput& e) {
        EXPECT_EQ(std::string(e.what()), r.at("error").get<std::string>());
      }
    } else {
      EXPECT_EQ(format.render(messages, generation_prompt), r.at("rendered").get<std::string>());
    }
  }
  return rejected;
}

TEST(ChatFormat, DeepSeekV3MatchesJinja) {
  EXPECT_EQ(expect_matches_fixture("deepseek_v3", chat::DeepSeekChat{.r1 = false}), 0);
}

TEST(ChatFormat, DeepSeekR1MatchesJinja) {
  EXPECT_EQ(expect_matches_fixture("deepseek_r1", chat::DeepSeekChat{.r1 = true}), 0);
}

TEST(ChatFormat, Llama3MatchesJinja) {
  EXPECT_EQ(expect_matches_fixture("llama3_1", chat::Llama3Chat{}), 0);
}

TEST(ChatFormat, Llama4MatchesJinja) {
  EXPECT_EQ(expect_matches_fixture("llama4", chat::Llama4Chat{}), 0);
}

TEST(ChatFormat, MistralV1MatchesJinja) {
  // Rejected: misordered roles and tool turns (both generation-prompt settings).
  EXPECT_GT(expect_matches_fixture("mistral_v1", chat::MistralChat{.version = 1}), 0);
}

TEST(ChatFormat, MistralV3MatchesJinja) {
  EXPECT_GT(expect_matches_fixture("mistral_v3", chat::MistralChat{.version = 3}), 0);
}

TEST(ChatFormat, EmptyConversations) {
  // The Llama 4 and Mistral templates read messages[0]; the DeepSeek ones render bos alone.
  EXPECT_THROW((void)chat::Llama4Chat{}.render({}), templlm::InvalidInput);
  EXPECT_THROW((void)chat::MistralChat{}.render({}), templlm::InvalidInput);
  EXPECT_EQ(chat::DeepSeekChat{}.render({}, false),
            chat::DeepSeekChat::special("begin of sentence"));
}

TEST(ChatFormat, PythonStripAndJson) {
  namespace d = chat::detail;
  EXPECT_EQ(d::strip("\xC2\xA0 a b\t\xE3\x80\x80"), "a b");  // U+00A0 ... U+3000
  EXPECT_EQ(d::strip("\xC3\xA9 "), "\xC3\xA9");               // é is not a space
  EXPECT_EQ(d::strip(" \x1F\x85"), "\x85");                   // a stray byte stays
  EXPECT_EQ(d::json_quote("a\"b\\c\n\x01\xC3\xA9"), "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\"");
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
  const auto thinking = chat::DeepSeekChat{}.parse("hmm, so");  // still inside the think block
  EXPECT_EQ(thinking.reasoning, "hmm, so");
  EXPECT_EQ(thinking.content, "");
  const auto v3 = chat::DeepSeekChat{.r1 = false}.parse("hmm, so");
  EXPECT_EQ(v3.content, "hmm, so");
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
