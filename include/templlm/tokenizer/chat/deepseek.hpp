// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/deepseek.hpp
/// DeepSeek-V3 and DeepSeek-R1 prompts (no tool calls): bos, the system prompts joined by blank
/// lines, `<｜User｜>…`, `<｜Assistant｜>…<｜end▁of▁sentence｜>`, tool results inside
/// `<｜tool▁outputs▁begin｜>…<｜tool▁outputs▁end｜>`. With `r1` (the default) this is R1's released
/// template (tools/chat_templates/deepseek-ai_DeepSeek-R1.jinja): assistant history loses
/// everything up to `</think>` and the generation prompt opens `<think>\n`; with `r1 = false` it is
/// the V3 template in tests/data/tokenizers/deepseek_v3/tokenizer_config.json. Fixtures:
/// chat/deepseek_r1.jsonl, chat/deepseek_v3.jsonl.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "templlm/tokenizer/chat/message.hpp"
#include "templlm/tokenizer/chat/options.hpp"

namespace templlm::tokenizer::chat {

struct DeepSeekChat {
  bool r1 = true;

  // <think> and </think> are ids 128798/128799 in R1's tokenizer; V3's has placeholders there.
  static constexpr std::uint32_t bos = 0, eos = 1, think = 128798, think_end = 128799;
  static constexpr std::array<std::uint32_t, 1> stop_ids{eos};

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    std::string out = special("begin of sentence");
    bool first_system = true;
    for (const Message& m : messages) {
      if (m.role != "system") continue;
      if (!first_system) out += "\n\n";
      out += m.content;
      first_system = false;
    }
    // The template's ns.is_tool / ns.is_output_first: a run of tool results stays open until an
    // assistant turn (or the end) closes it; the outputs-begin tag is written once per
    // conversation, and a user turn leaves an open run unclosed.
    bool in_tool = false, first_output = true;
    for (const Message& m : messages) {
      if (m.role == "user") {
        in_tool = false;
        out += user_tag() + m.content;
      } else if (m.role == "assistant" && in_tool) {
        out += special("tool outputs end") + m.content + eos_tag();  // reasoning kept here
        in_tool = false;
      } else if (m.role == "assistant") {
        std::string_view content = m.content;
        if (r1) content = detail::after_last(content, "</think>");
        out += assistant_tag() + std::string(content) + eos_tag();
      } else if (m.role == "tool") {
        in_tool = true;
        if (first_output) out += special("tool outputs begin");
        else if (!r1) out += "\n";  // V3 separates later outputs by a newline, R1 does not
        out += special("tool output begin") + m.content + special("tool output end");
        first_output = false;
      }
    }
    if (in_tool) out += special("tool outputs end");
    if (add_generation_prompt && !in_tool) {
      out += assistant_tag();
      if (r1) out += "<think>\n";
    }
    return out;
  }

  /// Splits generated text into reasoning and answer. R1's prompt opened the think block, so its
  /// reply is reasoning until `</think>` (as vLLM's deepseek_r1 parser reads it; a streamed
  /// reply's thoughts never show up as content first).
  ParsedReply parse(std::string_view generated) const {
    std::string text(generated);
    if (r1 && text.find("<think>") == std::string::npos) text = "<think>" + text;
    return detail::parse_think(text, eos_tag());
  }

  /// DeepSeek's special-token spelling: `<｜words▁joined▁by▁U+2581｜>` (fullwidth bars).
  static std::string special(std::string_view words) {
    std::string out = "<\xEF\xBD\x9C";
    for (const char c : words) out += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    return out + "\xEF\xBD\x9C>";
  }
  static std::string user_tag() { return special("User"); }
  static std::string assistant_tag() { return special("Assistant"); }
  static std::string eos_tag() { return special("end of sentence"); }
};

/// V3 and R1 share one architecture and config; R1's template (and its distills') opens the
/// answer with "<think>", V3's never mentions it. Without a template the description's choice
/// stands.
inline void configure(DeepSeekChat& d, const ChatOptions& o) {
  if (!o.checkpoint_template.empty()) d.r1 = o.checkpoint_template.find("<think>") != std::string::npos;
}

}  // namespace templlm::tokenizer::chat
