// SPDX-License-Identifier: Apache-2.0
// Function calling through the server's request and response shapes (serve/openai.hpp,
// serve/anthropic.hpp) on Qwen3's format: tools and earlier calls rendered as the template does,
// tool_choice, refusals naming the field, and the calls of a reply as OpenAI tool_calls and
// Anthropic tool_use blocks, whole and streamed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include <templlm/serve/anthropic.hpp>
#include <templlm/serve/openai.hpp>
#include <templlm/tokenizer/chat/all.hpp>
#include <templlm/tokenizer/tokenizer.hpp>

#include "support/fixture.hpp"

namespace templlm::test {
namespace {

namespace chat = tokenizer::chat;
using serve::json;

const tokenizer::Tokenizer& qwen3_tokenizer() {
  static const auto tok = tokenizer::Tokenizer::from_file(data_dir() / "tokenizers" / "qwen3" / "tokenizer.json");
  return tok;
}

serve::ChatFormats qwen3() { return {chat::erase(chat::Qwen3Chat{}), {}}; }

std::string prompt_text(const serve::Completion& c) {
  std::vector<std::uint32_t> ids(c.prompt.begin(), c.prompt.end());
  return qwen3_tokenizer().decode(ids);
}

const char* weather_tool =
    R"({"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})";

TEST(ToolsApi, OpenAiToolsAndEarlierCallsRenderAsTheTemplate) {
  const std::string raw = std::string(R"({"model": "m", "tools": [)") + weather_tool + R"(], "messages": [
      {"role": "user", "content": "Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]})";
  const auto c = serve::read_chat(json::parse(raw), qwen3(), qwen3_tokenizer(), 16, {}, raw);
  EXPECT_TRUE(c.tool_calls);
  const std::string p = prompt_text(c);
  // The definition as the client wrote it (key order kept: "type" before "function").
  EXPECT_NE(p.find(std::string("<tools>\n") + weather_tool + "\n</tools>"), std::string::npos) << p;
  // The arguments string holds an object: it reaches the template as that object (vLLM's rule).
  EXPECT_NE(p.find("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"
                   "\n</tool_call><|im_end|>"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>"), std::string::npos) << p;
  // tool_choice "none": rendered, not parsed back.
  auto none = json::parse(raw);
  none["tool_choice"] = "none";
  EXPECT_FALSE(serve::read_chat(none, qwen3(), qwen3_tokenizer(), 16, {}, none.dump()).tool_calls);
}

TEST(ToolsApi, OpenAiRefusesWhatItCannotHonourNamingTheField) {
  const std::string base = std::string(R"({"tools": [)") + weather_tool + R"(], "messages": [{"role": "user", "content": "x"}])";
  auto refused = [&](const std::string& extra, const std::string& field) {
    const std::string raw = base + extra + "}";
    try {
      (void)serve::read_chat(json::parse(raw), qwen3(), qwen3_tokenizer(), 16, {}, raw);
      ADD_FAILURE() << "accepted " << raw;
    } catch (const serve::RequestError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(e.param(), field) << e.what();
    }
  };
  refused(R"(, "tool_choice": "required")", "tool_choice");
  refused(R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}})", "tool_choice");
  refused(R"(, "tool_choice": "sometimes")", "tool_choice");
  const std::string bad_tool = R"({"tools": [{"type": "function", "function": {"description": "no name"}}], "messages": [{"role": "user", "content": "x"}]})";
  try {
    (void)serve::read_chat(json::parse(bad_tool), qwen3(), qwen3_tokenizer(), 16, {}, bad_tool);
    ADD_FAILURE();
  } catch (const serve::RequestError& e) {
    EXPECT_EQ(e.param(), "tools[0].function.name");
  }
  // A format that cannot render tools refuses them instead of dropping them.
  const serve::ChatFormats harmony{chat::erase(chat::HarmonyChat{}), {}};
  try {
    (void)serve::read_chat(json::parse(base + "}"), harmony, qwen3_tokenizer(), 16, {}, base + "}");
    ADD_FAILURE();
  } catch (const serve::RequestError& e) {
    EXPECT_EQ(e.param(), "tools");
  }
  // /v1/completions takes no tools.
  try {
    (void)serve::read_completion(json::parse(R"({"prompt": "x", "tools": [{}]})"), qwen3_tokenizer(), 100, 16);
    ADD_FAILURE();
  } catch (const serve::RequestError& e) {
    EXPECT_EQ(e.param(), "tools");
  }
}

TEST(ToolsApi, AnthropicToolsToolUseAndResultsRenderAsTheOpenAiForm) {
  const std::string raw = R"({"max_tokens": 8, "tools": [{"name": "get_weather", "description": "Weather.",
      "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
      "messages": [{"role": "user", "content": "Paris?"},
                   {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                     {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                     {"type": "text", "text": "Thanks."}]}]})";
  const auto c = serve::anthropic::read_messages(json::parse(raw), qwen3(), qwen3_tokenizer(), {}, raw);
  EXPECT_TRUE(c.tool_calls);
  const std::string p = prompt_text(c);
  EXPECT_NE(p.find(std::string("<tools>\n") + weather_tool + "\n</tools>"), std::string::npos) << p;
  EXPECT_NE(p.find("Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>user\nThanks."),
            std::string::npos)
      << p;
  auto any = json::parse(raw);
  any["tool_choice"] = {{"type", "any"}};
  EXPECT_THROW((void)serve::anthropic::read_messages(any, qwen3(), qwen3_tokenizer(), {}, any.dump()), serve::RequestError);
}

runtime::GenerationResult reply(std::string text) {
  runtime::GenerationResult r;
  r.text = std::move(text);
  r.tokens = {1, 2, 3};
  r.stop = runtime::StopReason::eos;
  return r;
}

TEST(ToolsApi, RepliesBecomeToolCallsAndToolUseBlocks) {
  serve::Completion c;
  c.chat = true;
  c.format = chat::erase(chat::Qwen3Chat{});
  c.tool_calls = true;
  const auto r = reply("Sure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
  const auto parsed = c.format.parse(r.text, {.ended = true, .tool_calls = true});
  const json calls = serve::tool_calls_json(parsed.tool_calls, 0, false);
  ASSERT_EQ(calls.size(), 1u);
  const std::string id = calls[0]["id"];
  EXPECT_EQ(id.size(), 9u);  // Mistral's templates take back only 9 alphanumerics
  EXPECT_TRUE(std::all_of(id.begin(), id.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)); }));
  EXPECT_NE(serve::new_call_id(), serve::new_call_id());
  EXPECT_EQ(calls[0]["type"], "function");
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(calls[0]["function"]["arguments"], "{\"city\": \"Paris\"}");
  EXPECT_STREQ(serve::chat_finish_reason(r.stop, true), "tool_calls");
  EXPECT_STREQ(serve::chat_finish_reason(runtime::StopReason::max_tokens, true), "length");

  const json m = serve::anthropic::message("msg_7", "m", c, r);
  ASSERT_EQ(m["content"].size(), 2u);
  EXPECT_EQ(m["content"][0]["type"], "text");
  EXPECT_EQ(m["content"][0]["text"], "Sure.\n");
  EXPECT_EQ(m["content"][1]["type"], "tool_use");
  EXPECT_EQ(m["content"][1]["name"], "get_weather");
  EXPECT_EQ(m["content"][1]["input"], json({{"city", "Paris"}}));
  EXPECT_EQ(m["stop_reason"], "tool_use");

  // Streamed: text, then one tool_use block with its input as one input_json_delta.
  serve::ChatDeltas deltas(c.format, true);
  serve::anthropic::EventWriter w("msg_7", "m", 3);
  std::string events = w.start();
  for (std::size_t i = 0; i < r.text.size(); i += 4) events += w.delta(deltas.add(std::string_view(r.text).substr(i, 4), false));
  events += w.delta(deltas.add("", true));
  events += w.finish(r);
  EXPECT_NE(events.find(R"("input":{},"name":"get_weather","type":"tool_use"})"), std::string::npos) << events;
  EXPECT_NE(events.find(R"("content_block":{"id":"toolu_)"), std::string::npos) << events;
  EXPECT_NE(events.find(R"({"partial_json":"{\"city\":\"Paris\"}","type":"input_json_delta"})"), std::string::npos) << events;
  EXPECT_NE(events.find(R"("stop_reason":"tool_use")"), std::string::npos) << events;
  EXPECT_EQ(events.find("<tool_call>"), std::string::npos) << events;
}

}  // namespace
}  // namespace templlm::test
