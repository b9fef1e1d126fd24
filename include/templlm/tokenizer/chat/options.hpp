// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/options.hpp
/// What a user (or the checkpoint) may change about a chat format that a description names:
/// a model description says which format its family speaks (`static Format chat_format()`),
/// and configured() applies the per-run choices each format understands through a
/// `configure(Format&, const ChatOptions&)` overload found by ADL (formats without choices have
/// none). Plain values: no shared state.
#pragma once
#include <string>

namespace templlm::tokenizer::chat {

struct ChatOptions {
  bool thinking = true;               // Qwen3: enable_thinking
  std::string reasoning = "medium";   // Harmony: low, medium or high
  std::string date;                   // Harmony: the "Current date" line; empty omits it
  /// tokenizer_config.json's "chat_template" of the checkpoint, empty when it has none: formats
  /// whose variants share one architecture (DeepSeek V3 and R1) tell them apart by it.
  std::string checkpoint_template;
};

template <class Format>
Format configured(Format f, const ChatOptions& o) {
  if constexpr (requires { configure(f, o); }) configure(f, o);
  return f;
}

}  // namespace templlm::tokenizer::chat
