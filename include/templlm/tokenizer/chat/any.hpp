// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/any.hpp
/// A chat format behind three functions (render, parse, stop ids), for code that picks the format
/// at run time from the loaded model (a server, the CLI chat), and a fourth, render_tools, for
/// the formats that render function definitions (empty for the others: a caller refuses tools
/// then, never drops them). Copyable; thread-safe (const).
#pragma once
#include <cstdint>
#include <concepts>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "message.hpp"
#include "tools.hpp"

namespace templlm::tokenizer::chat {

struct AnyChat {
  std::function<std::string(const std::vector<Message>&, bool add_generation_prompt)> render;
  std::function<ParsedReply(std::string_view generated, ParseOptions)> parse;
  std::vector<std::uint32_t> stop_ids;  // the ids that end a reply in this format
  std::function<std::string(const std::vector<Message>&, const std::vector<Tool>&, bool add_generation_prompt)>
      render_tools = {};
};

template <class Format>
AnyChat erase(Format f) {
  AnyChat a{[f](const std::vector<Message>& m, bool prompt) { return f.render(m, prompt); },
            [f](std::string_view out, ParseOptions o) {
              if constexpr (requires { f.parse(out, o); }) return f.parse(out, o);
              else return f.parse(out);
            },
            std::vector<std::uint32_t>(Format::stop_ids.begin(), Format::stop_ids.end())};
  // A format renders tools when it has render(messages, tools, prompt) and, where it says so
  // per instance (Mistral v1 vs v3), tools_supported().
  if constexpr (requires(const std::vector<Message>& m, const std::vector<Tool>& t) {
                  { f.render(std::span<const Message>(m), std::span<const Tool>(t), true) } -> std::same_as<std::string>;
                }) {
    bool supported = true;
    if constexpr (requires { { f.tools_supported() } -> std::same_as<bool>; }) supported = f.tools_supported();
    if (supported)
      a.render_tools = [f](const std::vector<Message>& m, const std::vector<Tool>& t, bool prompt) {
        return f.render(std::span<const Message>(m), std::span<const Tool>(t), prompt);
      };
  }
  return a;
}

}  // namespace templlm::tokenizer::chat
