// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/mistral.hpp
/// Mistral `[INST]` prompts. v1 (Mixtral-8x7B/8x22B-v0.1 instruct): `<s>[INST] u [/INST]a</s>[INST]
/// u2 [/INST]`, the system prompt joined to the first user turn by a blank line. v3
/// (8x22B-Instruct-v0.1): `<s>[INST] u[/INST] a</s>[INST] u2[/INST]`, the system prompt joined to
/// the last user turn. Both from the architecture notes (§5.3); the vendored Mistral tokenizer has
/// no chat_template, so there is no Jinja fixture.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "templlm/tokenizer/chat/message.hpp"

namespace templlm::tokenizer::chat {

struct MistralChat {
  int version = 1;  // 1 or 3

  static constexpr std::uint32_t bos = 1, eos = 2;
  static constexpr std::array<std::uint32_t, 1> stop_ids{eos};

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    (void)add_generation_prompt;  // the prompt always ends in [/INST]
    std::string system;
    std::size_t first_user = messages.size(), last_user = messages.size();
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (messages[i].role == "system") {
        if (!system.empty()) system += "\n\n";
        system += messages[i].content;
      } else if (messages[i].role == "user") {
        if (first_user == messages.size()) first_user = i;
        last_user = i;
      }
    }
    const std::size_t system_at = version >= 3 ? last_user : first_user;
    std::string out = "<s>";
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const Message& m = messages[i];
      if (m.role == "user") {
        const std::string text =
            i == system_at && !system.empty() ? system + "\n\n" + m.content : m.content;
        out += version >= 3 ? "[INST] " + text + "[/INST]" : "[INST] " + text + " [/INST]";
      } else if (m.role == "assistant") {
        out += (version >= 3 ? " " : "") + m.content + "</s>";
      }
    }
    return out;
  }
  ParsedReply parse(std::string_view generated) const {
    return detail::parse_think(generated, "</s>");
  }
};

}  // namespace templlm::tokenizer::chat
