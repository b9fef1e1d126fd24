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
#include "templlm/tokenizer/chat/tools.hpp"

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
    return render(messages, {}, add_generation_prompt);
  }
  /// With tools (the template's default tools_in_user_message): "Environment: ipython" in a
  /// given system turn, the definitions (`tojson(indent=4)`) with the template's instructions
  /// before the first message after the system turn, calls as `<|python_start|>content
  /// <|python_end|>{"name": ..., "parameters": ...}`.
  std::string render(std::span<const Message> messages, std::span<const Tool> tools, bool add_generation_prompt) const {
    if (messages.empty()) throw InvalidInput("Llama4Chat: the conversation has no message");
    std::string out = "<|begin_of_text|>";
    std::size_t first = 0;
    if (messages[0].role == "system") {  // only a leading system message is trimmed
      out += header("system");
      if (!tools.empty()) out += "Environment: ipython\n";
      out += std::string(detail::strip(messages[0].content)) + "<|eot|>";
      first = 1;
    }
    if (!tools.empty()) {
      if (first == messages.size())
        throw InvalidInput("Cannot put tools in the first user message when there's no first user message!");
      out += header("user") +
             "Given the following functions, please respond with a JSON for a function call with its proper "
             "arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, "
             "\"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n";
      for (const Tool& t : tools) out += py_json_dumps(t.definition, 4) + "\n\n";
      out += std::string(detail::strip(messages[first].content)) + "<|eot|>";  // whatever its role
      ++first;
    }
    for (const Message& m : messages.subspan(first)) {
      if (m.role == "tool" || m.role == "ipython") {
        // Tool results go out as role ipython, through `tojson`: a string arrives JSON-quoted.
        out += header("ipython") + detail::json_quote(m.content) + "<|eot|>";
      } else if (!m.tool_calls.empty()) {
        out += header("assistant") + "<|python_start|>" + m.content + "<|python_end|>";
        for (const ToolCall& c : m.tool_calls)
          out += "{\"name\": \"" + c.name + "\", \"parameters\": " +
                 (c.arguments_as_string ? detail::json_quote(c.arguments) : c.arguments) + "}";
        out += "<|eot|>";
      } else {
        out += header(m.role) + m.content + "<|eot|>";
      }
    }
    if (add_generation_prompt) out += header("assistant");
    return out;
  }
  static std::string header(std::string_view role) {
    return "<|header_start|>" + std::string(role) + "<|header_end|>\n\n";
  }
  ParsedReply parse(std::string_view generated, ParseOptions o = {}) const {
    ParsedReply r = detail::parse_think(generated, "<|eot|>");
    if (o.tool_calls) detail::extract_llama_json_tool_calls(r, o.ended || r.complete);
    return r;
  }
};

}  // namespace templlm::tokenizer::chat
