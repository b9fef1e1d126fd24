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
/// and an empty conversation.
/// v3 also renders tools: `[AVAILABLE_TOOLS] [...][/AVAILABLE_TOOLS]` before the last user turn
/// (each function's fields as the template prints them: strings raw, other values `tojson`),
/// assistant calls as `[TOOL_CALLS] [{"name", "arguments", "id"}, ...]</s>` and results as
/// `[TOOL_RESULTS] {"content": ..., "call_id": ...}[/TOOL_RESULTS]`; call ids must be 9
/// characters (the template's rule). Replies are read back as vLLM's mistral parser reads them:
/// `[TOOL_CALLS]` followed by a JSON array of {"name", "arguments"}. Fixtures:
/// chat/mistral_v3_tools.jsonl.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/chat/message.hpp"
#include "templlm/tokenizer/chat/tools.hpp"

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

  /// v3's template renders tools; v1's has none.
  bool tools_supported() const { return version >= 3; }

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    return render(messages, {}, add_generation_prompt);
  }
  std::string render(std::span<const Message> messages, std::span<const Tool> tools, bool add_generation_prompt) const {
    (void)add_generation_prompt;  // the prompt always ends in [/INST]
    if (messages.empty()) throw InvalidInput("MistralChat: the conversation has no message");
    if (!tools.empty() && version < 3) throw InvalidInput("MistralChat: the v1 template has no tools");
    const bool has_system = messages[0].role == "system";
    const std::string& system = messages[0].content;
    const std::span<const Message> turns = messages.subspan(has_system ? 1 : 0);
    // v3 checks every turn before rendering; v1 checks each turn as it renders it, so a turn
    // with an unknown role can fail on its role before a later turn fails on the order.
    if (version >= 3) check_alternation(turns);
    // The template puts the tools before every user turn equal to the last one (`message ==
    // user_messages[-1]` compares the messages' fields).
    const Message* last_user = nullptr;
    for (const Message& m : turns)
      if (m.role == "user") last_user = &m;
    std::string out = "<s>";
    for (std::size_t i = 0; i < turns.size(); ++i) {
      const Message& m = turns[i];
      if (version < 3 && (m.role == "user") != (i % 2 == 0)) throw InvalidInput(alternate_error);
      if (m.role == "user") {
        if (!tools.empty() && m.content == last_user->content && m.tool_call_id == last_user->tool_call_id)
          out += available_tools(tools);
        const bool with_system = has_system && (version >= 3 ? i + 1 == turns.size() : i == 0);
        const std::string text = with_system ? system + "\n\n" + m.content : m.content;
        out += version >= 3 ? "[INST] " + text + "[/INST]" : " [INST] " + text + " [/INST]";
      } else if (version >= 3 && !m.tool_calls.empty()) {
        out += "[TOOL_CALLS] [";
        for (std::size_t k = 0; k < m.tool_calls.size(); ++k) {
          const ToolCall& c = m.tool_calls[k];
          // tojson of the function {name, arguments}, its closing brace replaced by the id.
          out += "{\"name\": " + detail::json_quote(c.name) + ", \"arguments\": " +
                 (c.arguments_as_string ? detail::json_quote(c.arguments) : c.arguments);
          if (c.id.size() != 9) throw InvalidInput(tool_id_error);
          out += ", \"id\": \"" + c.id + "\"}";
          out += k + 1 < m.tool_calls.size() ? ", " : "]</s>";
        }
      } else if (m.role == "assistant") {
        out += " " + (version >= 3 ? std::string(detail::strip(m.content)) : m.content) + "</s>";
      } else if (version >= 3 && (m.role == "tool" || m.role == "tool_results")) {
        out += "[TOOL_RESULTS] {\"content\": " + m.content + ", ";
        if (m.tool_call_id.size() != 9) throw InvalidInput(tool_id_error);
        out += "\"call_id\": \"" + m.tool_call_id + "\"}[/TOOL_RESULTS]";
      } else {
        throw InvalidInput(role_error);
      }
    }
    return out;
  }
  ParsedReply parse(std::string_view generated, ParseOptions o = {}) const {
    ParsedReply r = detail::parse_think(generated, "</s>");
    if (o.tool_calls && version >= 3) detail::extract_json_array_tool_calls(r, "[TOOL_CALLS]", o.ended || r.complete);
    return r;
  }

 private:
  /// `[AVAILABLE_TOOLS] [{"type": "function", "function": {...}}, ...][/AVAILABLE_TOOLS]`: each
  /// field of the function but "return", a string as `"key": "value"` with no escaping (the
  /// template concatenates it), anything else through `tojson`.
  static std::string available_tools(std::span<const Tool> tools) {
    std::string out = "[AVAILABLE_TOOLS] [";
    for (std::size_t t = 0; t < tools.size(); ++t) {
      out += "{\"type\": \"function\", \"function\": {";
      const auto& f = tools[t].definition.at("function");
      bool first = true;
      for (auto it = f.begin(); it != f.end(); ++it) {
        if (it.key() == "return") continue;
        if (!first) out += ", ";
        first = false;
        out += "\"" + it.key() + "\": ";
        out += it.value().is_string() ? "\"" + it.value().get<std::string>() + "\"" : py_json_dumps(it.value());
      }
      out += "}}";
      out += t + 1 < tools.size() ? ", " : "]";
    }
    return out + "[/AVAILABLE_TOOLS]";
  }

  /// v3: user turns at even positions, others at odd ones, tool results and calls not counted.
  static void check_alternation(std::span<const Message> turns) {
    std::size_t index = 0;
    for (const Message& m : turns) {
      if (m.role == "tool" || m.role == "tool_results" || !m.tool_calls.empty()) continue;
      if ((m.role == "user") != (index % 2 == 0)) throw InvalidInput(alternate_error);
      ++index;
    }
  }
};

}  // namespace templlm::tokenizer::chat
