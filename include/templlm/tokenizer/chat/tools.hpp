// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/tools.hpp
/// Function calling shared by the chat formats: a tool definition as the request gave it, the
/// `tojson` filter of transformers' chat templates (Python's json.dumps with ensure_ascii=False:
/// ", " and ": " separators, keys in the order given), and the Hermes-style `<tool_call>` JSON
/// blocks that Qwen3 (and Qwen2.5) write, parsed as vLLM's hermes parser reads them. Host-only,
/// pure functions.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "message.hpp"

namespace templlm::tokenizer::chat {

/// One tool as the request gave it: {"type": "function", "function": {"name", "description",
/// "parameters"}}, key order kept (the templates print it back).
struct Tool {
  std::string name;
  nlohmann::ordered_json definition;
};

namespace detail {

/// indent < 0: one line with ", " and ": "; indent >= 0: json.dumps(indent=n), one item per
/// line, "," at line ends, empty containers as {} and [].
inline void py_json_dumps(const nlohmann::ordered_json& v, std::string& out, int indent = -1, int depth = 0) {
  using nlohmann::ordered_json;
  const auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(std::size_t(indent) * std::size_t(d), ' ');
  };
  const char* comma = indent < 0 ? ", " : ",";
  switch (v.type()) {
    case ordered_json::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += comma;
        first = false;
        newline(depth + 1);
        out += json_quote(it.key());
        out += ": ";
        py_json_dumps(it.value(), out, indent, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    case ordered_json::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += comma;
        newline(depth + 1);
        py_json_dumps(v[i], out, indent, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case ordered_json::value_t::string: out += json_quote(v.get_ref<const std::string&>()); return;
    case ordered_json::value_t::number_float: {
      // Python's repr: the shortest round-trip digits, as nlohmann writes them ("0.1", "1e+300",
      // "1e-07", "2.0"); non-finite values cannot come from parsed JSON.
      out += v.dump();
      return;
    }
    default: out += v.dump(); return;  // null, true, false, integers
  }
}

}  // namespace detail

/// json.dumps(v, ensure_ascii=False[, indent=n]): what the templates' `tojson` prints.
inline std::string py_json_dumps(const nlohmann::ordered_json& v, int indent = -1) {
  std::string out;
  detail::py_json_dumps(v, out, indent);
  return out;
}

namespace detail {

/// Moves the `<tool_call>{"name": ..., "arguments": ...}</tool_call>` blocks of r.content into
/// r.tool_calls (arguments printed back with py_json_dumps, as vLLM's hermes parser does). The
/// content is the text before the first block (as vLLM keeps it, so a streamed prefix stays a
/// prefix), plus any text between or after the blocks; whitespace alone is no content.
/// A block is a call once its JSON is a whole {"name": string, "arguments": ...} object, closed
/// or not (the model may stop right after it, as vLLM's parser also accepts). A block still
/// being written is held back while the reply goes on (neither content nor a call yet); once the
/// reply has `ended`, a block whose JSON is not a call stays in the content as text: nothing is
/// dropped.
inline void extract_hermes_tool_calls(ParsedReply& r, bool ended) {
  static constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
  const std::string text = r.content;
  std::size_t at = text.find(open);
  if (at == std::string::npos) return;
  std::string content = text.substr(0, at);
  std::string kept;  // blocks that were not calls, and text between or after blocks
  while (at != std::string::npos) {
    const std::size_t body = at + open.size();
    const std::size_t end = text.find(close, body);
    const std::string_view inside =
        strip(std::string_view(text).substr(body, end == std::string::npos ? std::string::npos : end - body));
    bool called = false;
    const auto call = nlohmann::ordered_json::parse(inside, nullptr, /*allow_exceptions=*/false);
    if (call.is_object() && call.contains("name") && call["name"].is_string() && call.contains("arguments")) {
      r.tool_calls.push_back({{}, call["name"].get<std::string>(), chat::py_json_dumps(call["arguments"])});
      called = true;
    } else if (end == std::string::npos && !ended) {
      break;  // still being written
    }
    const std::size_t next_text = end == std::string::npos ? text.size() : end + close.size();
    if (!called) kept += text.substr(at, next_text - at);
    at = text.find(open, next_text);
    const std::string_view between =
        std::string_view(text).substr(next_text, (at == std::string::npos ? text.size() : at) - next_text);
    if (!strip(between, " \t\r\n").empty()) kept += between;
  }
  r.content = content + kept;
  if (strip(r.content, " \t\r\n").empty()) r.content.clear();
}

/// The calls after `marker` as one JSON array of {"name", "arguments"} (Mistral's
/// `[TOOL_CALLS] [...]`, as vLLM's mistral parser reads it): the content is the text before the
/// marker. While the reply goes on, an array not yet whole is held back; once it has `ended`, an
/// array that is not calls stays in the content as text.
inline void extract_json_array_tool_calls(ParsedReply& r, std::string_view marker, bool ended) {
  const std::size_t at = r.content.find(marker);
  if (at == std::string::npos) return;
  const std::string_view rest = strip(std::string_view(r.content).substr(at + marker.size()));
  const auto calls = nlohmann::ordered_json::parse(rest, nullptr, /*allow_exceptions=*/false);
  bool ok = calls.is_array() && !calls.empty();
  for (const auto& c : ok ? calls : nlohmann::ordered_json::array())
    ok = ok && c.is_object() && c.contains("name") && c["name"].is_string() && c.contains("arguments");
  if (!ok) {
    if (!ended) r.content.resize(at);  // still being written: neither content nor calls yet
    return;
  }
  for (const auto& c : calls)
    r.tool_calls.push_back({{}, c["name"].get<std::string>(), chat::py_json_dumps(c["arguments"])});
  r.content.resize(at);
}

/// One past the end of the JSON object starting at s[0] == '{' (braces counted outside
/// strings), or npos when it is not closed in s.
inline std::size_t json_object_end(std::string_view s) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

/// Llama's JSON calls: a reply that is (after an optional <|python_start|>) one or more
/// {"name": ..., "parameters": {...}} objects, separated by ';' or whitespace, is calls (as vLLM's
/// llama3_json parser reads it); anything else is content. While the reply goes on, a reply that
/// may still become calls is held back; once it has `ended`, what did not parse is content.
inline void extract_llama_json_tool_calls(ParsedReply& r, bool ended) {
  std::string_view s = strip(std::string_view(r.content));
  if (s.starts_with("<|python_start|>")) s.remove_prefix(16);
  s = strip(s);
  if (!s.starts_with("{")) return;
  std::vector<ToolCall> calls;
  bool whole = true;
  while (!s.empty()) {
    const std::size_t end = s.front() == '{' ? json_object_end(s) : std::string_view::npos;
    if (end == std::string_view::npos) {
      whole = false;
      break;
    }
    const auto call = nlohmann::ordered_json::parse(s.substr(0, end), nullptr, false);
    const char* key = call.is_object() && call.contains("parameters") ? "parameters" : "arguments";
    if (!call.is_object() || !call.contains("name") || !call["name"].is_string() || !call.contains(key)) {
      if (!ended) r.content.clear();
      return;
    }
    calls.push_back({{}, call["name"].get<std::string>(), chat::py_json_dumps(call[key])});
    s = strip(lstrip(strip(s.substr(end)), ";"));
    if (s.starts_with("<|python_end|>")) s = strip(s.substr(14));
  }
  if (!whole) {
    if (!ended) r.content.clear();  // may still become calls
    return;
  }
  r.tool_calls = std::move(calls);
  r.content.clear();
}

}  // namespace detail
}  // namespace templlm::tokenizer::chat
