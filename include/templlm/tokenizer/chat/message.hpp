// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/message.hpp
/// What every chat format shares: a message, the parsed form of a model's reply, and the string
/// helpers the Jinja templates use (Python's strip/lstrip/rstrip, `tojson` of a string, and
/// `<think>…</think>` splitting). The formats themselves are one typed struct per family in this
/// folder; there is no template engine. Host-only.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace templlm::tokenizer::chat {

/// A function call an assistant turn makes. `arguments` is the text the templates print: an
/// object's `tojson` (Python's json.dumps), or, when `arguments_as_string`, a string the
/// template was given as such (Qwen3 prints it as is; templates that `tojson` the value quote it).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
  bool arguments_as_string = false;
};

/// One turn. `role` is "system", "developer", "user", "assistant" or "tool". An assistant turn
/// may carry tool calls and its reasoning as a separate field (OpenAI's reasoning_content); a
/// tool turn names the call it answers.
struct Message {
  std::string role;
  std::string content;
  std::vector<ToolCall> tool_calls = {};
  std::string tool_call_id = {};
  std::optional<std::string> reasoning_content = {};
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
  std::vector<ToolCall> tool_calls;  // calls the reply completed, in order (ids left empty)
  bool complete = false;          // the reply ended with a stop token / closing marker
};

/// How a reply is read back: `ended` — generation stopped (its stop token need not be in the
/// text), so what a format holds back (an unterminated tool call) is settled; `tool_calls` —
/// the request declared tools, so call blocks become ParsedReply::tool_calls (otherwise they
/// are content, as the model wrote them).
struct ParseOptions {
  bool ended = false;
  bool tool_calls = false;
};

namespace detail {

/// Python's str.strip(chars) for a set of ASCII characters.
inline std::string_view strip(std::string_view s, std::string_view chars) {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

/// str.isspace() for one code point: Jinja's `|trim` is Python's strip(), which also removes
/// Unicode spaces (U+00A0, U+3000, ...), not only ASCII ones.
inline bool is_py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

/// Length of the UTF-8 sequence starting with `lead`; 0 for a continuation byte.
inline std::size_t utf8_length(unsigned char lead) {
  return lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : lead >= 0x80 ? 0 : 1;
}

/// The code point of the well-formed sequence `s` (the bytes of one character).
inline char32_t utf8_decode(std::string_view s) {
  const auto b = [&](std::size_t i) { return char32_t(static_cast<unsigned char>(s[i])); };
  switch (s.size()) {
    case 2: return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
    case 3: return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
    case 4: return (b(0) & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
    default: return b(0);
  }
}

/// Python's str.strip() with no argument (Jinja's `|trim`) on UTF-8 text.
inline std::string_view strip(std::string_view s) {
  while (!s.empty()) {
    const std::size_t n = utf8_length(static_cast<unsigned char>(s.front()));
    if (n == 0 || n > s.size() || !is_py_space(utf8_decode(s.substr(0, n)))) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    std::size_t start = s.size() - 1;  // back up over continuation bytes to the lead byte
    const auto continuation = [&](std::size_t i) {
      return (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
    };
    while (start > 0 && s.size() - start < 4 && continuation(start)) --start;
    const std::string_view last = s.substr(start);
    if (utf8_length(static_cast<unsigned char>(last.front())) != last.size() ||
        !is_py_space(utf8_decode(last)))
      break;
    s.remove_suffix(last.size());
  }
  return s;
}

/// `json.dumps(s, ensure_ascii=False)`, as the `tojson` filter of transformers' chat templates
/// writes a string: quoted, with `"`, backslash and control characters escaped, other text as is.
inline std::string json_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
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
