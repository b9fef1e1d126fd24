// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/harmony.hpp
/// GPT-OSS harmony prompts and replies, as OpenAI's openai-harmony renderer produces them (no
/// tools): the system block (identity, knowledge cutoff, date, `Reasoning: low|medium|high`,
/// valid channels), a developer block `# Instructions` when the conversation has system/developer
/// text, user turns, assistant history on the `final` channel only (earlier analysis dropped), and
/// `<|start|>assistant` as the generation prompt. Fixtures:
/// tests/data/tokenizers/chat/harmony.jsonl.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/chat/message.hpp"
#include "templlm/tokenizer/chat/options.hpp"

namespace templlm::tokenizer::chat {

struct HarmonyChat {
  enum class Reasoning { low, medium, high };

  Reasoning reasoning = Reasoning::medium;
  std::string date;  // "YYYY-MM-DD"; empty omits the "Current date" line
  std::string identity = "You are ChatGPT, a large language model trained by OpenAI.";
  std::string knowledge_cutoff = "2024-06";

  static constexpr std::uint32_t endoftext = 199999, return_ = 200002, constrain = 200003,
                                 channel = 200005, start = 200006, end = 200007, message = 200008,
                                 call = 200012;
  /// `<|end|>` closes turns inside prompts and is not a stop token.
  static constexpr std::array<std::uint32_t, 3> stop_ids{return_, endoftext, call};

  static std::string_view name(Reasoning r) {
    return r == Reasoning::low ? "low" : r == Reasoning::high ? "high" : "medium";
  }

  std::string render(std::span<const Message> messages, bool add_generation_prompt = true) const {
    std::string out =
        "<|start|>system<|message|>" + identity + "\nKnowledge cutoff: " + knowledge_cutoff + "\n";
    if (!date.empty()) out += "Current date: " + date + "\n";
    out += "\nReasoning: " + std::string(name(reasoning)) +
           "\n\n# Valid channels: analysis, commentary, final. Channel must be included for "
           "every message.<|end|>";
    std::string instructions;
    for (const Message& m : messages) {
      if (m.role != "system" && m.role != "developer") continue;
      if (!instructions.empty()) instructions += "\n\n";
      instructions += m.content;
    }
    if (!instructions.empty())
      out += "<|start|>developer<|message|># Instructions\n\n" + instructions + "<|end|>";
    for (const Message& m : messages) {
      if (m.role == "user") {
        out += "<|start|>user<|message|>" + m.content + "<|end|>";
      } else if (m.role == "assistant") {
        const std::string_view final_text =
            detail::lstrip(detail::after_last(m.content, "</think>"), "\n");
        out +=
            "<|start|>assistant<|channel|>final<|message|>" + std::string(final_text) + "<|end|>";
      }
    }
    if (add_generation_prompt) out += "<|start|>assistant";
    return out;
  }

  /// Splits generated text (decoded with special tokens kept, starting after the prompt's
  /// `<|start|>assistant`) into channel messages; reasoning is the analysis channel, content the
  /// final channel.
  ParsedReply parse(std::string_view generated) const {
    ParsedReply r;
    std::string_view s = generated;
    bool first = true;
    while (!s.empty()) {
      if (!first) {
        const std::size_t st = s.find("<|start|>");
        if (st == std::string_view::npos) break;
        s = s.substr(st + 9);
      }
      first = false;
      const std::size_t ch = s.find("<|channel|>"), msg = s.find("<|message|>");
      if (msg == std::string_view::npos) break;
      std::string channel_name;
      if (ch != std::string_view::npos && ch < msg) {
        channel_name = std::string(s.substr(ch + 11, msg - ch - 11));
        channel_name = channel_name.substr(0, channel_name.find(' '));  // "commentary json" etc.
      }
      s = s.substr(msg + 11);
      std::size_t stop = std::string_view::npos, stop_len = 0;
      for (const std::string_view tag : {"<|end|>", "<|return|>", "<|call|>"}) {
        const std::size_t p = s.find(tag);
        if (p < stop) {
          stop = p;
          stop_len = tag.size();
        }
      }
      const std::string_view body = s.substr(0, stop);
      r.channels.push_back({channel_name, std::string(body)});
      if (channel_name == "analysis") r.reasoning += body;
      if (channel_name == "final" || channel_name.empty()) r.content += body;
      if (stop == std::string_view::npos) break;
      const std::string_view tag = s.substr(stop, stop_len);
      s = s.substr(stop + stop_len);
      if (tag != "<|end|>") {
        r.complete = true;
        break;
      }
    }
    return r;
  }
};

/// --reasoning and --date; an unknown reasoning level is an error, not "medium".
inline void configure(HarmonyChat& h, const ChatOptions& o) {
  if (o.reasoning == "low") h.reasoning = HarmonyChat::Reasoning::low;
  else if (o.reasoning == "medium") h.reasoning = HarmonyChat::Reasoning::medium;
  else if (o.reasoning == "high") h.reasoning = HarmonyChat::Reasoning::high;
  else throw InvalidInput("templlm: harmony reasoning must be low, medium or high, not '" + o.reasoning + "'");
  h.date = o.date;
}

}  // namespace templlm::tokenizer::chat
