// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/chat_tools_test.cpp
/// Function calling in the chat formats: Qwen3's renders with tools, assistant tool calls
/// (string and object arguments), tool results and reasoning_content against transformers'
/// apply_chat_template (tests/data/tokenizers/chat/qwen3_tools.jsonl, written by
/// tools/make_tool_chat_fixtures.py); `tojson` as Python's json.dumps; replies parsed back into
/// calls as vLLM's hermes parser reads them.
#include <gtest/gtest.h>

#include "templlm/tokenizer/chat/all.hpp"
#include "templlm/tokenizer/chat/any.hpp"
#include "tokenizer_test_support.hpp"

namespace {

namespace chat = templlm::tokenizer::chat;
using ordered_json = nlohmann::ordered_json;

std::vector<chat::Message> messages_of(const ordered_json& r) {
  std::vector<chat::Message> out;
  for (const auto& m : r.at("messages")) {
    chat::Message msg{m.at("role").get<std::string>(), m.at("content").get<std::string>()};
    if (m.contains("reasoning_content")) msg.reasoning_content = m.at("reasoning_content").get<std::string>();
    if (m.contains("tool_call_id")) msg.tool_call_id = m.at("tool_call_id").get<std::string>();
    if (m.contains("tool_calls"))
      for (const auto& c : m.at("tool_calls")) {
        const auto& a = c.at("function").at("arguments");
        msg.tool_calls.push_back({c.at("id").get<std::string>(), c.at("function").at("name").get<std::string>(),
                                  a.is_string() ? a.get<std::string>() : chat::py_json_dumps(a), a.is_string()});
      }
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<ordered_json> records(const std::string& file) {
  std::ifstream in(templlm::test::tokenizer_dir("chat") / file);
  std::vector<ordered_json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(ordered_json::parse(line));
  EXPECT_FALSE(out.empty()) << file;
  return out;
}

TEST(ChatTools, Qwen3RendersToolsCallsAndResultsAsTheTemplate) {
  int with_tools = 0, with_calls = 0;
  for (const auto& r : records("qwen3_tools.jsonl")) {
    const auto& o = r.at("options");
    SCOPED_TRACE(r.at("name").get<std::string>() + " " + o.dump());
    chat::Qwen3Chat c{.enable_thinking = o.value("enable_thinking", true)};
    std::vector<chat::Tool> tools;
    if (!r.at("tools").is_null())
      for (const auto& t : r.at("tools")) tools.push_back({t.at("function").at("name").get<std::string>(), t});
    const auto messages = messages_of(r);
    for (const auto& m : messages) with_calls += m.tool_calls.empty() ? 0 : 1;
    with_tools += tools.empty() ? 0 : 1;
    const bool prompt = o.at("add_generation_prompt").get<bool>();
    EXPECT_EQ(c.render(messages, tools, prompt), r.at("rendered").get<std::string>());
    // Through the run-time interface the server uses.
    const auto any = chat::erase(c);
    ASSERT_TRUE(any.render_tools);
    EXPECT_EQ(any.render_tools(messages, tools, prompt), r.at("rendered").get<std::string>());
  }
  EXPECT_GE(with_tools, 12);
  EXPECT_GE(with_calls, 12);
}

/// Every record of a `<family>_tools.jsonl` fixture: the render, or the template's error.
template <class Format>
void expect_tool_fixture(const std::string& file, const Format& format, int want_renders, int want_errors) {
  int renders = 0, errors = 0;
  for (const auto& r : records(file)) {
    SCOPED_TRACE(r.at("name").get<std::string>() + " " + r.at("options").dump());
    std::vector<chat::Tool> tools;
    if (!r.at("tools").is_null())
      for (const auto& t : r.at("tools")) tools.push_back({t.at("function").at("name").get<std::string>(), t});
    const bool prompt = r.at("options").at("add_generation_prompt").get<bool>();
    if (r.contains("error")) {
      ++errors;
      try {
        (void)format.render(messages_of(r), tools, prompt);
        ADD_FAILURE() << "rendered a conversation the template rejects";
      } catch (const templlm::InvalidInput& e) {
        EXPECT_EQ(std::string(e.what()), r.at("error").get<std::string>());
      }
    } else {
      ++renders;
      EXPECT_EQ(format.render(messages_of(r), tools, prompt), r.at("rendered").get<std::string>());
    }
  }
  EXPECT_EQ(renders, want_renders);
  EXPECT_EQ(errors, want_errors);
}

TEST(ChatTools, MistralV3RendersToolsCallsAndResultsAsTheTemplate) {
  expect_tool_fixture("mistral_v3_tools.jsonl", chat::MistralChat{.version = 3}, 5, 6);
  EXPECT_TRUE(chat::erase(chat::MistralChat{.version = 3}).render_tools);
}

TEST(ChatTools, Llama4RendersToolsInTheFirstUserTurnAsTheTemplate) {
  expect_tool_fixture("llama4_tools.jsonl", chat::Llama4Chat{}, 16, 2);
}

TEST(ChatTools, Llama4JsonRepliesParseIntoCalls) {
  const chat::Llama4Chat l;
  const auto r = l.parse("<|python_start|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; "
                         "{\"name\": \"now\", \"parameters\": {}}<|python_end|><|eot|>",
                         {.tool_calls = true});
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_EQ(r.content, "");
  EXPECT_TRUE(l.parse("{\"name\": \"now\", \"param", {.tool_calls = true}).content.empty());  // may become a call
  EXPECT_EQ(l.parse("{\"answer\": 42}", {.ended = true, .tool_calls = true}).content, "{\"answer\": 42}");
  EXPECT_EQ(l.parse("Plain text.", {.tool_calls = true}).content, "Plain text.");
}

TEST(ChatTools, MistralV3RepliesParseIntoCalls) {
  const chat::MistralChat m{.version = 3};
  const std::string reply = "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}, "
                            "{\"name\": \"now\", \"arguments\": {}}]</s>";
  const auto r = m.parse(reply, {.tool_calls = true});
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_EQ(r.content, "");
  EXPECT_TRUE(m.parse("[TOOL_CALLS] [{\"name\": \"now\", \"argu", {.tool_calls = true}).content.empty());
  EXPECT_EQ(m.parse("Sure [TOOL_CALLS] nope", {.ended = true, .tool_calls = true}).content, "Sure [TOOL_CALLS] nope");
  EXPECT_TRUE(m.parse(reply).tool_calls.empty());  // no tools declared
}

TEST(ChatTools, FormatsWithoutToolRenderingSayNone) {
  // The server refuses tools for these (serve/openai.hpp) rather than dropping them.
  EXPECT_FALSE(chat::erase(chat::HarmonyChat{}).render_tools);
  EXPECT_FALSE(chat::erase(chat::DeepSeekChat{}).render_tools);
  EXPECT_FALSE(chat::erase(chat::MistralChat{}).render_tools);
}

TEST(ChatTools, ToJsonIsPythonsJsonDumps) {
  // Expected strings: Python's json.dumps(x, ensure_ascii=False) of the same values.
  EXPECT_EQ(chat::py_json_dumps(ordered_json::parse(R"({"b": 1, "a": [true, null, -2.5, 1e300, 1e-7, 0.1, 2.0]})")),
            R"({"b": 1, "a": [true, null, -2.5, 1e+300, 1e-07, 0.1, 2.0]})");
  EXPECT_EQ(chat::py_json_dumps(ordered_json::parse(R"({"a": [1, {}], "b": {"c": []}})"), 2),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": {\n    \"c\": []\n  }\n}");  // json.dumps(indent=2)
  EXPECT_EQ(chat::py_json_dumps(ordered_json::parse(R"({"s": "Zürich \"q\" \\ \n\t\u0001", "e": {}, "l": []})")),
            "{\"s\": \"Zürich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"e\": {}, \"l\": []}");
}

TEST(ChatTools, Qwen3RepliesParseIntoCallsOnlyWhenToolsWereDeclared) {
  const chat::Qwen3Chat q;
  const std::string reply =
      "<think>\nweather\n</think>\n\nChecking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\":\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call><|im_end|>";
  const auto r = q.parse(reply, {.tool_calls = true});
  EXPECT_EQ(r.reasoning, "weather");
  EXPECT_EQ(r.content, "Checking.\n");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city": "Paris"})");  // json.dumps of the parsed arguments
  EXPECT_EQ(r.tool_calls[1].arguments, "{}");
  EXPECT_TRUE(r.complete);
  // No tools: the blocks are the answer's text.
  const auto plain = q.parse(reply);
  EXPECT_TRUE(plain.tool_calls.empty());
  EXPECT_NE(plain.content.find("<tool_call>"), std::string::npos);
  // A block being written is neither content nor a call until the reply ends.
  const auto open = q.parse("Let me see.\n<tool_call>\n{\"name\": \"now\", \"argu", {.tool_calls = true});
  EXPECT_EQ(open.content, "Let me see.\n");
  EXPECT_TRUE(open.tool_calls.empty());
  const auto ended = q.parse("Let me see.\n<tool_call>\n{\"name\": \"now\", \"argu", {.ended = true, .tool_calls = true});
  EXPECT_EQ(ended.content, "Let me see.\n<tool_call>\n{\"name\": \"now\", \"argu");
  // A whole call whose close tag never came (the model stopped) is still a call.
  const auto unclosed = q.parse("<tool_call>\n{\"name\": \"now\", \"arguments\": {\"tz\": \"UTC\"}}", {.tool_calls = true});
  ASSERT_EQ(unclosed.tool_calls.size(), 1u);
  EXPECT_EQ(unclosed.content, "");
  // JSON that is not a call stays text.
  const auto bad = q.parse("<tool_call>\n[1, 2]\n</tool_call> and more", {.ended = true, .tool_calls = true});
  EXPECT_TRUE(bad.tool_calls.empty());
  EXPECT_EQ(bad.content, "<tool_call>\n[1, 2]\n</tool_call> and more");
}

}  // namespace
