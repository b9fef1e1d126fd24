// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/deepseek.hpp
/// DeepSeek-V3 and DeepSeek-R1 prompts (no tools): bos, the system prompts joined by blank lines,
/// `<｜User｜>…`, `<｜Assistant｜>…<｜end▁of▁sentence｜>`. With `r1` (the default), assistant
/// history loses everything up to `</think>` and the generation prompt opens `<think>\n`, as R1's
/// updated template does; with `r1 = false` this is exactly the V3 template in
/// tests/data/tokenizers/deepseek_v3/tokenizer_config.json (fixtures: chat/deepseek_v3.jsonl).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "templlm/tokenizer/chat/message.hpp"

namespace templlm::tokenizer::chat {

struct DeepSeekChat {
  bool r1 = true;

  // <think> and </think> are ids 128798/128799 in R1's tokenizer; V3's has placeholders there.
  static constexpr std::uint32_t bos = 0, eos = 1, think = 128798, think_end = 128799;
  static constexpr std::array<std::uint32_t, 1> stop_ids{eos};

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    std::string out =
        "<\xEF\xBD\x9C"
        "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
    bool first_system = true;
    for (const Message& m : messages) {
      if (m.role != "system") continue;
      if (!first_system) out += "\n\n";
      out += m.content;
      first_system = false;
    }
    for (const Message& m : messages) {
      if (m.role == "user") {
        out += user_tag() + m.content;
      } else if (m.role == "assistant") {
        std::string content = m.content;
        if (r1 && content.find("</think>") != std::string::npos)
          content = std::string(detail::after_last(content, "</think>"));
        out += assistant_tag() + content + eos_tag();
      }
    }
    if (add_generation_prompt) {
      out += assistant_tag();
      if (r1) out += "<think>\n";
    }
    return out;
  }

  /// Splits generated text into reasoning and answer (R1 starts inside the think block).
  ParsedReply parse(std::string_view generated) const {
    std::string text(generated);
    if (r1 && text.find("<think>") == std::string::npos &&
        text.find("</think>") != std::string::npos)
      text = "<think>" + text;
    return detail::parse_think(text, eos_tag());
  }

  static std::string user_tag() { return "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"; }
  static std::string assistant_tag() {
    return "<\xEF\xBD\x9C"
           "Assistant\xEF\xBD\x9C>";
  }
  static std::string eos_tag() {
    return "<\xEF\xBD\x9C"
           "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
  }
};

}  // namespace templlm::tokenizer::chat
