// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/llama.hpp
/// Llama header formats. Llama3Chat is the Llama 3.1 tokenizer_config.json template in
/// tests/data/tokenizers/llama3_1 (bos, `<|start_header_id|>role<|end_header_id|>\n\n`, content
/// trimmed, `<|eot_id|>`; fixtures: chat/llama3_1.jsonl). Llama4Chat is the same shape with Llama
/// 4's tokens (`<|header_start|>`, `<|header_end|>`, `<|eot|>`, content not trimmed), written from
/// the architecture notes (§4.5): no Llama 4 tokenizer is vendored, so it has no Jinja fixture.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

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

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    std::string out = "<|begin_of_text|>";
    for (const Message& m : messages) {
      const std::string role = m.role == "tool" ? "ipython" : m.role;
      out += "<|header_start|>" + role + "<|header_end|>\n\n" + m.content + "<|eot|>";
    }
    if (add_generation_prompt) out += "<|header_start|>assistant<|header_end|>\n\n";
    return out;
  }
  ParsedReply parse(std::string_view generated) const {
    return detail::parse_think(generated, "<|eot|>");
  }
};

}  // namespace templlm::tokenizer::chat
