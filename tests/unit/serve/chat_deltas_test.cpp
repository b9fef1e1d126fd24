// SPDX-License-Identifier: Apache-2.0
// serve::ChatDeltas: a reply streamed piece by piece adds up to what the format's parser makes of
// the whole reply (content and reasoning), no partial marker reaches the client, and a long
// reply of plain text is not re-parsed per piece.
#include <gtest/gtest.h>

#include <templlm/serve/openai.hpp>
#include <templlm/tokenizer/chat/all.hpp>

namespace templlm::test {
namespace {

namespace chat = tokenizer::chat;

struct Streamed {
  std::string content, reasoning;
  std::vector<chat::ToolCall> calls;
};

/// Feeds `text` in pieces of `width` bytes (0: split at spaces and markers, like tokens).
Streamed stream(chat::AnyChat f, std::string_view text, std::size_t width, int* parses = nullptr,
                bool tool_calls = false) {
  if (parses) {
    auto inner = f.parse;
    f.parse = [inner, parses](std::string_view s, chat::ParseOptions o) {
      ++*parses;
      return inner(s, o);
    };
  }
  serve::ChatDeltas deltas(f, tool_calls);
  Streamed out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = width;
    if (width == 0) {
      const std::size_t next = text.find_first_of(" <|>\n", i + 1);
      n = (next == std::string_view::npos ? text.size() : next) - i;
    }
    const auto d = deltas.add(text.substr(i, n), false);
    EXPECT_EQ(d.content.find("<|"), std::string::npos) << "a partial marker in content: " << d.content;
    if (tool_calls && text.find("not json") == std::string_view::npos) {  // that block is text
      EXPECT_EQ(d.content.find("<tool"), std::string::npos) << "a call in content: " << d.content;
    }
    EXPECT_EQ(d.first_call, out.calls.size());
    out.content += d.content;
    out.reasoning += d.reasoning;
    out.calls.insert(out.calls.end(), d.tool_calls.begin(), d.tool_calls.end());
    i += n;
  }
  const auto d = deltas.add("", true);
  EXPECT_EQ(d.first_call, out.calls.size());
  out.content += d.content;
  out.reasoning += d.reasoning;
  out.calls.insert(out.calls.end(), d.tool_calls.begin(), d.tool_calls.end());
  return out;
}

void expect_streams_add_up(const chat::AnyChat& f, std::string_view text) {
  const auto whole = f.parse(text, {.ended = true});
  for (const std::size_t width : {0, 1, 2, 5, 64}) {
    const auto s = stream(f, text, width);
    EXPECT_EQ(s.content, whole.content) << "pieces of " << width << " bytes: " << text;
    EXPECT_EQ(s.reasoning, whole.reasoning) << "pieces of " << width << " bytes: " << text;
  }
}

TEST(ChatDeltas, StreamedPiecesAddUpToTheWholeParse) {
  expect_streams_add_up(chat::erase(chat::Qwen3Chat{}),
                        "<think>\nFirst, the sum.\nThen [the] check\n\n</think>\n\nIt is 4.\nDone <b>.<|im_end|>");
  expect_streams_add_up(chat::erase(chat::Qwen3Chat{}), "No thoughts, just an answer with a < sign.");
  expect_streams_add_up(chat::erase(chat::DeepSeekChat{}),
                        "the user wants 2+2\nso 4\n</think>\n\nFour.<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
  expect_streams_add_up(chat::erase(chat::DeepSeekChat{.r1 = false}), "Four, said V3.\n");
  expect_streams_add_up(chat::erase(chat::Llama4Chat{}), "A [bracketed] answer.<|eot|>");
  expect_streams_add_up(chat::erase(chat::HarmonyChat{}),
                        "<|channel|>analysis<|message|>User asks 2+2. Easy.<|end|><|start|>assistant"
                        "<|channel|>final<|message|>4, of course.<|return|>");
}

TEST(ChatDeltas, ThoughtsNeverReachContentFirst) {
  // R1 starts inside its think block: the first words are reasoning, not content.
  const auto s = stream(chat::erase(chat::DeepSeekChat{}), "hmm let me see", 0);
  EXPECT_EQ(s.reasoning, "hmm let me see");
  EXPECT_EQ(s.content, "");
}

TEST(ChatDeltas, PlainTextIsNotReparsedPerPiece) {
  std::string text = "<think>\nshort\n</think>\n\n";
  for (int i = 0; i < 2000; ++i) text += "word ";
  text += "<|im_end|>";
  int parses = 0;
  const auto s = stream(chat::erase(chat::Qwen3Chat{}), text, 0, &parses);
  EXPECT_EQ(s.content, chat::Qwen3Chat{}.parse(text).content);
  EXPECT_LT(parses, 40) << "2000 pieces of plain text";
}

TEST(ChatDeltas, ToolCallsStreamWholeAndNeverAsContent) {
  const auto f = chat::erase(chat::Qwen3Chat{});
  const std::string replies[] = {
      "<think>\nNeed weather.\n</think>\n\nLet me check.\n<tool_call>\n{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n"
      "</tool_call>",
      "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}",                  // stopped before the close
      "Text <tool_call>\n{\"name\": \"now\", \"arg",                           // cut inside: content at the end
      "<tool_call>\nnot json\n</tool_call> after",                             // not a call: content
  };
  for (const auto& text : replies) {
    const auto whole = f.parse(text, {.ended = true, .tool_calls = true});
    for (const std::size_t width : {0, 1, 3, 64}) {
      SCOPED_TRACE(std::to_string(width) + " " + text);
      const auto s = stream(f, text, width, nullptr, true);
      EXPECT_EQ(s.content, whole.content);
      EXPECT_EQ(s.reasoning, whole.reasoning);
      ASSERT_EQ(s.calls.size(), whole.tool_calls.size());
      for (std::size_t k = 0; k < s.calls.size(); ++k) {
        EXPECT_EQ(s.calls[k].name, whole.tool_calls[k].name);
        EXPECT_EQ(s.calls[k].arguments, whole.tool_calls[k].arguments);
      }
    }
  }
  EXPECT_EQ(f.parse(replies[0], {.ended = true, .tool_calls = true}).tool_calls.size(), 2u);
  EXPECT_EQ(f.parse(replies[1], {.ended = true, .tool_calls = true}).tool_calls.size(), 1u);
  EXPECT_EQ(f.parse(replies[2], {.ended = true, .tool_calls = true}).content, replies[2]);
  // Without declared tools the blocks are the model's text.
  EXPECT_EQ(stream(f, replies[0], 5).calls.size(), 0u);
  EXPECT_NE(stream(f, replies[0], 5).content.find("<tool_call>"), std::string::npos);
}

}  // namespace
}  // namespace templlm::test
