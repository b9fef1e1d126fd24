// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/any.hpp
/// A chat format behind three functions (render, parse, stop ids), for code that picks the format
/// at run time from the loaded model (a server, the CLI chat). Copyable; thread-safe (const).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "message.hpp"

namespace templlm::tokenizer::chat {

struct AnyChat {
  std::function<std::string(const std::vector<Message>&, bool add_generation_prompt)> render;
  std::function<ParsedReply(std::string_view generated)> parse;
  std::vector<std::uint32_t> stop_ids;  // the ids that end a reply in this format
};

template <class Format>
AnyChat erase(Format f) {
  return {[f](const std::vector<Message>& m, bool prompt) { return f.render(m, prompt); },
          [f](std::string_view out) { return f.parse(out); },
          std::vector<std::uint32_t>(Format::stop_ids.begin(), Format::stop_ids.end())};
}

}  // namespace templlm::tokenizer::chat
