// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/llama.hpp
/// Llama header formats. Llama3Chat is the Llama 3.1 tokenizer_config.json template in
/// tests/data/tokenizers/llama3_1 (bos, `<|start_header_id|>role<|end_header_id|>\n\n`, content
/// trimmed, `<|eot_id|>`; fixtures: chat/llama3_1.jsonl). Llama4Chat is Llama 4 Scout/Maverick's
/// released template without tools (tools/chat_templates/meta-llama_Llama-4-Scout-17B-16E-
/// Instruct.jinja): `<|header_start|>`, `<|header_end|>`, `<|eot|>`, only a leading system message
/// trimmed, tool results as role ipython. Fixtures: chat/llama4.jsonl, rendered on the Llama 3.1
/// tokenizer (the template needs only the bos string, which both spell `<|begin_of_text|>`).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/chat/message.hpp"

namespace templlm::tokenizer::chat {

struct Llama3Chat {
  static constexpr std::uint32_t begin_of_text = 128000, end_of_text = 128001, eot = 128009,
                                 eom = 128008;
  static constexpr std::array<std::uint32_t, 3> stop_ids{end_of_text, eom, eot};

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    std::string out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (i == 0) out += "<|begin_of_text|>";
      out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
             std::string(detail::strip(messages[i].content)) + "<|eot_id|>";
    }
    if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
  }
  ParsedReply parse(std::string_view generated) const {
    return detail::parse_think(generated, "<|eot_id|>");
  }
};

struct Llama4Chat {
  static constexpr std::uint32_t begin_of_text = 200000, end_of_text = 200001, eom = 200007,
                                 eot = 200008;
  static constexpr std::array<std::uint32_t, 3> stop_ids{end_of_text, eom, eot};

  /// Throws InvalidInput on an empty conversation, which the template cannot render.
  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    if (messages.empty()) throw InvalidInput("Llama4Chat: the conversation has no message");
    std::string out = "<|begin_of_text|>";
    std::size_t first = 0;
    if (messages[0].role == "system") {  // only a leading system message is trimmed
      out += header("system") + std::string(detail::strip(messages[0].content)) + "<|eot|>";
      first = 1;
    }
    for (const Message& m : messages.subspan(first)) {
      // Tool results go out as role ipython, through `tojson`: a string arrives JSON-quoted.
      if (m.role == "tool" || m.role == "ipython")
        out += header("ipython") + detail::json_quote(m.content) + "<|eot|>";
      else
        out += header(m.role) + m.content + "<|eot|>";
    }
    if (add_generation_prompt) out += header("assistant");
    return out;
  }
  static std::string header(std::string_view role) {
    return "<|header_start|>" + std::string(role) + "<|header_end|>\n\n";
  }
  ParsedReply parse(std::string_view generated) const {
    return detail::parse_think(generated, "<|eot|>");
  }
};

}  // namespace templlm::tokenizer::chat
