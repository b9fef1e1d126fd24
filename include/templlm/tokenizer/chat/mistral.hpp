// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/mistral.hpp
/// Mistral `[INST]` prompts, as the released Jinja templates in tools/chat_templates/ render them
/// (fixtures: chat/mistral_v1.jsonl, chat/mistral_v3.jsonl).
///  - v1, Mixtral-8x7B-Instruct-v0.1: `<s> [INST] u [/INST] a</s> [INST] u2 [/INST]`, a leading
///    system message joined to the first user turn by a blank line.
///  - v3, Mixtral-8x22B-Instruct-v0.1: `<s>[INST] u[/INST] a</s>[INST] u2[/INST]`, replies trimmed,
///    a leading system message joined to the last message only if that is a user turn (otherwise
///    the template drops it).
/// Both templates reject, and `render` throws InvalidInput with the template's own message for,
/// roles that do not alternate user/assistant after the optional system message, other roles
/// (v3 accepts tool results only with a tool_call_id, which Message does not carry) and an empty
/// conversation.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/chat/message.hpp"

namespace templlm::tokenizer::chat {

struct MistralChat {
  int version = 1;  // 1 or 3

  static constexpr std::uint32_t bos = 1, eos = 2;
  static constexpr std::array<std::uint32_t, 1> stop_ids{eos};

  static constexpr const char* alternate_error =
      "After the optional system message, conversation roles must alternate "
      "user/assistant/user/assistant/...";
  static constexpr const char* role_error =
      "Only user and assistant roles are supported, with the exception of an initial optional "
      "system message!";
  static constexpr const char* tool_id_error =
      "Tool call IDs should be alphanumeric strings with length 9!";

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    (void)add_generation_prompt;  // the prompt always ends in [/INST]
    if (messages.empty()) throw InvalidInput("MistralChat: the conversation has no message");
    const bool has_system = messages[0].role == "system";
    const std::string& system = messages[0].content;
    const std::span<const Message> turns = messages.subspan(has_system ? 1 : 0);
    // v3 checks every turn before rendering; v1 checks each turn as it renders it, so a turn
    // with an unknown role can fail on its role before a later turn fails on the order.
    if (version >= 3) check_alternation(turns);
    std::string out = "<s>";
    for (std::size_t i = 0; i < turns.size(); ++i) {
      const Message& m = turns[i];
      if (version < 3 && (m.role == "user") != (i % 2 == 0)) throw InvalidInput(alternate_error);
      if (m.role == "user") {
        const bool with_system = has_system && (version >= 3 ? i + 1 == turns.size() : i == 0);
        const std::string text = with_system ? system + "\n\n" + m.content : m.content;
        out += version >= 3 ? "[INST] " + text + "[/INST]" : " [INST] " + text + " [/INST]";
      } else if (m.role == "assistant") {
        out += " " + (version >= 3 ? std::string(detail::strip(m.content)) : m.content) + "</s>";
      } else if (version >= 3 && (m.role == "tool" || m.role == "tool_results")) {
        throw InvalidInput(tool_id_error);
      } else {
        throw InvalidInput(role_error);
      }
    }
    return out;
  }
  ParsedReply parse(std::string_view generated) const {
    return detail::parse_think(generated, "</s>");
  }

 private:
  /// v3: user turns at even positions, others at odd ones, tool results not counted.
  static void check_alternation(std::span<const Message> turns) {
    std::size_t index = 0;
    for (const Message& m : turns) {
      if (m.role == "tool" || m.role == "tool_results") continue;
      if ((m.role == "user") != (index % 2 == 0)) throw InvalidInput(alternate_error);
      ++index;
    }
  }
};

}  // namespace templlm::tokenizer::chat
