// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/qwen3.hpp
/// Qwen3 ChatML, as Qwen3's chat_template (tokenizer_config.json) renders it:
/// `<|im_start|>role\n…<|im_end|>\n`, reasoning dropped from assistant turns before the last user
/// query, a `<think>` block on assistant turns after it, and `enable_thinking = false` adding the
/// empty think block to the generation prompt. With tools: their definitions in the system turn
/// (`tojson`, tools.hpp), assistant calls as `<tool_call>` JSON blocks, tool results as
/// `<tool_response>` blocks of a user turn; replies parsed back as vLLM's hermes parser reads
/// them. Checked against the Jinja renders in tests/data/tokenizers/chat/qwen3.jsonl and
/// qwen3_tools.jsonl.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "templlm/tokenizer/chat/message.hpp"
#include "templlm/tokenizer/chat/options.hpp"
#include "templlm/tokenizer/chat/tools.hpp"

namespace templlm::tokenizer::chat {

struct Qwen3Chat {
  bool enable_thinking = true;

  static constexpr std::uint32_t im_start = 151644, im_end = 151645, endoftext = 151643;
  static constexpr std::uint32_t think = 151667, think_end = 151668;
  /// Generation stops on either.
  static constexpr std::array<std::uint32_t, 2> stop_ids{im_end, endoftext};

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    return render(messages, {}, add_generation_prompt);
  }
  std::string render(std::span<const Message> messages, std::span<const Tool> tools,
                     bool add_generation_prompt) const {
    using namespace detail;
    std::string out;
    if (!tools.empty()) {
      out += "<|im_start|>system\n";
      if (!messages.empty() && messages[0].role == "system") out += messages[0].content + "\n\n";
      out += "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided "
             "with function signatures within <tools></tools> XML tags:\n<tools>";
      for (const Tool& t : tools) out += "\n" + py_json_dumps(t.definition);
      out += "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
             "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
             "<args-json-object>}\n</tool_call><|im_end|>\n";
    } else if (!messages.empty() && messages[0].role == "system") {
      out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    }
    // The last user turn that is not a tool response ("last_query_index" in the template).
    std::size_t last_query = messages.size() - 1;
    for (std::size_t i = messages.size(); i-- > 0;) {
      const std::string& c = messages[i].content;
      const bool tool_response =
          c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
      if (messages[i].role == "user" && !tool_response) {
        last_query = i;
        break;
      }
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const Message& m = messages[i];
      if (m.role == "user" || (m.role == "system" && i != 0)) {
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      } else if (m.role == "assistant") {
        std::string content = m.content, reasoning;
        if (m.reasoning_content) {
          reasoning = *m.reasoning_content;
        } else if (m.content.find("</think>") != std::string::npos) {
          content = std::string(lstrip(after_last(m.content, "</think>"), "\n"));
          reasoning = std::string(lstrip(
              after_last(rstrip(before_first(m.content, "</think>"), "\n"), "<think>"), "\n"));
        }
        const bool last = i + 1 == messages.size();
        if (i > last_query && (last || !reasoning.empty())) {
          out += "<|im_start|>assistant\n<think>\n" + std::string(strip(reasoning, "\n")) +
                 "\n</think>\n\n" + std::string(lstrip(content, "\n"));
        } else {
          out += "<|im_start|>assistant\n" + content;
        }
        for (std::size_t j = 0; j < m.tool_calls.size(); ++j) {
          if (j > 0 || !content.empty()) out += "\n";
          out += "<tool_call>\n{\"name\": \"" + m.tool_calls[j].name + "\", \"arguments\": " +
                 m.tool_calls[j].arguments + "}\n</tool_call>";
        }
        out += "<|im_end|>\n";
      } else if (m.role == "tool") {
        if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
        out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
        if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
      }
    }
    if (add_generation_prompt) {
      out += "<|im_start|>assistant\n";
      if (!enable_thinking) out += "<think>\n\n</think>\n\n";
    }
    return out;
  }

  /// Splits generated text (after the prompt) into reasoning and answer.
  ParsedReply parse(std::string_view generated, ParseOptions o = {}) const {
    ParsedReply r = detail::parse_think(generated, "<|im_end|>");
    if (o.tool_calls) detail::extract_hermes_tool_calls(r, o.ended || r.complete);
    return r;
  }
};

inline void configure(Qwen3Chat& q, const ChatOptions& o) { q.enable_thinking = o.thinking; }

}  // namespace templlm::tokenizer::chat
