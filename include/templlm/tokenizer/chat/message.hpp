// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/message.hpp
/// What every chat format shares: a message, the parsed form of a model's reply, and the string
/// helpers the Jinja templates use (Python's strip/lstrip/rstrip on whitespace or newlines, and
/// `<think>…</think>` splitting). The formats themselves are one typed struct per family in this
/// folder; there is no template engine. Host-only.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace templlm::tokenizer::chat {

/// One turn. `role` is "system", "developer", "user", "assistant" or "tool".
struct Message {
  std::string role;
  std::string content;
};

/// A model reply split into its parts.
struct ParsedReply {
  struct Channel {
    std::string name;  // harmony: "analysis", "commentary", "final"
    std::string content;
  };
  std::string reasoning;          // chain of thought (think block or analysis channel)
  std::string content;            // the final answer
  std::vector<Channel> channels;  // harmony only: every message, in order
  bool complete = false;          // the reply ended with a stop token / closing marker
};

namespace detail {

inline bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/// Python's str.strip(chars) for a set of ASCII characters (whitespace by default).
inline std::string_view strip(std::string_view s, std::string_view chars = " \t\n\r\v\f") {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}
inline std::string_view lstrip(std::string_view s, std::string_view chars) {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  return s;
}
inline std::string_view rstrip(std::string_view s, std::string_view chars) {
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

/// `s.split(sep)[-1]` and `s.split(sep)[0]` in Python.
inline std::string_view after_last(std::string_view s, std::string_view sep) {
  const std::size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}
inline std::string_view before_first(std::string_view s, std::string_view sep) {
  return s.substr(0, s.find(sep));
}

/// Splits "<think>r</think>c" (the opener may be in the prompt already) into reasoning and
/// content. Without a closing tag, everything after an opening tag is unfinished reasoning.
inline ParsedReply parse_think(std::string_view out, std::string_view stop_marker = {}) {
  ParsedReply r;
  if (!stop_marker.empty()) {
    const std::size_t p = out.find(stop_marker);
    if (p != std::string_view::npos) {
      out = out.substr(0, p);
      r.complete = true;
    }
  }
  const std::size_t close = out.find("</think>");
  if (close == std::string_view::npos) {
    const std::size_t open = out.find("<think>");
    if (open != std::string_view::npos) {
      r.reasoning = std::string(strip(out.substr(open + 7), "\n"));
      return r;
    }
    r.content = std::string(out);
    return r;
  }
  std::string_view think = out.substr(0, close);
  if (const std::size_t open = think.find("<think>"); open != std::string_view::npos)
    think = think.substr(open + 7);
  r.reasoning = std::string(strip(think, "\n"));
  r.content = std::string(lstrip(out.substr(close + 8), "\n"));
  return r;
}

}  // namespace detail
}  // namespace templlm::tokenizer::chat
