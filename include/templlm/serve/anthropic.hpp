// SPDX-License-Identifier: Apache-2.0
/// \file serve/anthropic.hpp
/// Anthropic's Messages API shapes (POST /v1/messages): the request -> prompt and options, each
/// field checked (a RequestError naming it), and the reply as content blocks (`thinking` from the
/// format's reasoning, then `text`, then a `tool_use` block per call), streamed as its SSE event
/// sequence: message_start, content_block_start / _delta / _stop per block, message_delta (stop
/// reason, usage), message_stop. Tools ({name, description, input_schema}) are rendered as the
/// OpenAI-style function definitions the chat templates take (as vLLM and llama.cpp map them);
/// `tool_use` / `tool_result` blocks of earlier turns become assistant tool calls and tool
/// messages. Pure functions and a per-stream writer; no HTTP here.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "openai.hpp"

namespace templlm::serve::anthropic {

/// {"type": "error", "error": {"type", "message"}}
inline json error_body(std::string_view message, std::string_view type) {
  return {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
}

/// The text of a `system` or `content` field: a string or an array of text blocks (and image
/// blocks with a base64 source, when `images` takes them: they stand as its placeholder).
inline std::string text_of(const json& v, const std::string& field, RequestImages* images = nullptr) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) throw detail::bad(field, "a string or an array of content blocks", v);
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const json& b = v[i];
    const std::string at = field + "[" + std::to_string(i) + "]";
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string())
      throw detail::bad(at, "a content block with a type", b);
    const std::string type = b["type"].get<std::string>();
    if (type == "text") {
      if (!b.contains("text") || !b["text"].is_string()) throw detail::bad(at + ".text", "a string", b);
      out += b["text"].get<std::string>();
    } else if (type == "image" && images != nullptr) {
      const auto src = b.find("source");
      if (src == b.end() || !src->is_object() || !src->contains("type") || !(*src)["type"].is_string())
        throw detail::bad(at + ".source", "an object with a type", b);
      if ((*src)["type"] != "base64")
        throw RequestError(400, at + ".source: only base64 sources are accepted; this server fetches no remote images",
                           at + ".source.type");
      const std::string media = src->value("media_type", "");
      if (media != "image/png" && media != "image/jpeg")
        throw RequestError(400, at + ".source.media_type: '" + media + "' is not supported (image/png, image/jpeg)",
                           at + ".source.media_type");
      if (!src->contains("data") || !(*src)["data"].is_string()) throw detail::bad(at + ".source.data", "a string", *src);
      out += images->add(base64_decode((*src)["data"].get<std::string>(), at + ".source.data"), at);
    } else if (type == "thinking" || type == "redacted_thinking") {
      // An earlier turn's reasoning: the chat formats leave it out of the history, as they do
      // for a <think> block.
    } else {
      throw RequestError(400, at + ": content blocks of type '" + type + "' are not supported by this server yet",
                         at + ".type");
    }
  }
  return out;
}

namespace detail {
using namespace serve::detail;  // bad, integer, number, ordered_body

/// `tools` as the chat templates' function definitions, and `tool_choice` ({"type": "auto"}, the
/// default with tools, or "none"; "any" and a named tool need constrained decoding: refused).
inline std::vector<tokenizer::chat::Tool> read_tools(const json& body, const nlohmann::ordered_json& ordered,
                                                     const tokenizer::chat::AnyChat& format, Completion& c) {
  std::vector<tokenizer::chat::Tool> tools;
  const auto t = body.find("tools");
  if (t != body.end() && !t->is_null()) {
    if (!t->is_array()) throw bad("tools", "an array of {\"name\", \"description\", \"input_schema\"} objects", *t);
    if (!t->empty() && !format.render_tools)
      throw RequestError(400, "'tools': tool use is not supported for this model's chat format yet", "tools");
    for (std::size_t i = 0; i < t->size(); ++i) {
      const json& tool = (*t)[i];
      const std::string at = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object()) throw bad(at, "an object", tool);
      if (const auto type = tool.find("type"); type != tool.end() && !type->is_null() && *type != "custom")
        throw RequestError(400, at + ": server tools (type " + type->dump() + ") are not supported by this server",
                           at + ".type");
      if (!tool.contains("name") || !tool["name"].is_string() || tool["name"].get<std::string>().empty())
        throw bad(at + ".name", "a non-empty string", tool.value("name", json()));
      if (!tool.contains("input_schema") || !tool["input_schema"].is_object())
        throw bad(at + ".input_schema", "a JSON Schema object", tool.value("input_schema", json()));
      const auto& o = ordered.at("tools").at(i);
      nlohmann::ordered_json f;
      f["name"] = o.at("name");
      if (o.contains("description")) f["description"] = o.at("description");
      f["parameters"] = o.at("input_schema");
      tools.push_back({tool["name"].get<std::string>(), {{"type", "function"}, {"function", std::move(f)}}});
    }
  }
  c.tool_calls = !tools.empty();
  if (const auto ch = body.find("tool_choice"); ch != body.end() && !ch->is_null()) {
    const std::string type = ch->is_object() ? ch->value("type", "") : "";
    if (type == "none") {
      c.tool_calls = false;
    } else if (type == "any" || type == "tool") {
      throw RequestError(400, "'tool_choice' " + ch->dump() + " needs decoding constrained to a tool call, which "
                              "this server does not have yet; use {\"type\": \"auto\"}", "tool_choice");
    } else if (type != "auto") {
      throw bad("tool_choice", "{\"type\": \"auto\"} or {\"type\": \"none\"}", *ch);
    }
  }
  return tools;
}

/// One request message as chat messages: a user turn's tool_result blocks become tool
/// messages (before its text), an assistant turn's tool_use blocks its tool calls.
inline std::vector<tokenizer::chat::Message> read_message(const json& msg, const nlohmann::ordered_json* ordered,
                                                          const std::string& at, const std::string& role,
                                                          RequestImages& images, bool tools_ok) {
  const json& content = msg["content"];
  std::vector<tokenizer::chat::Message> out;
  if (!content.is_array()) {
    out.push_back({role, text_of(content, at + ".content", &images)});
    return out;
  }
  json rest = json::array();  // the text, thinking and image blocks, in order
  tokenizer::chat::Message turn{role, ""};
  for (std::size_t k = 0; k < content.size(); ++k) {
    const json& b = content[k];
    const std::string bk = at + ".content[" + std::to_string(k) + "]";
    const std::string type = b.is_object() ? b.value("type", "") : "";
    if (type != "tool_use" && type != "tool_result") {
      rest.push_back(b);
      continue;
    }
    if (!tools_ok)
      throw RequestError(400, bk + ": tool_use and tool_result blocks are not supported for this model's chat format yet",
                         bk + ".type");
    if (type == "tool_use") {
      if (role != "assistant") throw RequestError(400, bk + ": tool_use blocks belong to assistant turns", bk + ".type");
      if (!b.contains("name") || !b["name"].is_string()) throw bad(bk + ".name", "a string", b.value("name", json()));
      if (!b.contains("input") || !b["input"].is_object()) throw bad(bk + ".input", "an object", b.value("input", json()));
      turn.tool_calls.push_back({b.value("id", std::string()), b["name"].get<std::string>(),
                                 tokenizer::chat::py_json_dumps(ordered->at("content").at(k).at("input"))});
    } else {
      if (role != "user") throw RequestError(400, bk + ": tool_result blocks belong to user turns", bk + ".type");
      tokenizer::chat::Message result{"tool", b.contains("content") ? text_of(b["content"], bk + ".content") : ""};
      result.tool_call_id = b.value("tool_use_id", std::string());
      out.push_back(std::move(result));
    }
  }
  turn.content = text_of(rest, at + ".content", &images);
  if (!turn.content.empty() || !turn.tool_calls.empty() || out.empty()) out.push_back(std::move(turn));
  return out;
}

}  // namespace detail

/// POST /v1/messages. `raw_body`: the body's text, for the key order of tools and tool inputs.
inline Completion read_messages(const json& body, const ChatFormats& formats, const tokenizer::Tokenizer& tok,
                                std::string image_placeholder = {}, std::string_view raw_body = {}) {
  using namespace detail;
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  for (const char* unsupported : {"mcp_servers", "container"}) {
    const auto it = body.find(unsupported);
    if (it != body.end() && !it->is_null() && !(it->is_array() && it->empty()))
      throw RequestError(400, std::string("'") + unsupported + "' is not supported by this server yet", unsupported);
  }
  Completion c;
  c.chat = true;
  const auto max_tokens = integer(body, "max_tokens", 1, std::numeric_limits<int>::max());
  if (!max_tokens) throw RequestError(400, "'max_tokens' is required", "max_tokens");
  c.opt.max_tokens = int(*max_tokens);
  auto& s = c.opt.sampling;
  s.temperature = float(number(body, "temperature", 0, 1, "in [0, 1]").value_or(1.0));
  s.top_p = float(number(body, "top_p", 0, 1, "in (0, 1]").value_or(1.0));
  if (!(s.top_p > 0)) throw bad("top_p", "a number in (0, 1]", body["top_p"]);
  s.top_k = int(integer(body, "top_k", 0, std::numeric_limits<int>::max()).value_or(0));
  c.stream = boolean(body, "stream").value_or(false);
  if (const auto st = body.find("stop_sequences"); st != body.end() && !st->is_null()) {
    if (!st->is_array()) throw bad("stop_sequences", "an array of strings", *st);
    for (const auto& x : *st) {
      if (!x.is_string() || x.get<std::string>().empty()) throw bad("stop_sequences", "an array of non-empty strings", *st);
      c.opt.stop_strings.push_back(x.get<std::string>());
    }
  }
  std::optional<tokenizer::chat::ChatOptions> switches;
  if (const auto th = body.find("thinking"); th != body.end() && !th->is_null()) {
    if (!th->is_object() || !th->contains("type") || !(*th)["type"].is_string())
      throw bad("thinking", "an object with a type (\"enabled\" or \"disabled\")", *th);
    const std::string type = (*th)["type"].get<std::string>();
    if (type != "enabled" && type != "disabled") throw bad("thinking.type", "\"enabled\" or \"disabled\"", (*th)["type"]);
    // Qwen3's switch; formats without one ignore it. A budget is not enforced yet (docs/serving.md).
    switches.emplace().thinking = type == "enabled";
  }
  c.format = formats.pick(switches, "thinking");
  const tokenizer::chat::AnyChat& format = c.format;
  const nlohmann::ordered_json ordered = serve::detail::ordered_body(body, raw_body);
  const auto tools = read_tools(body, ordered, format, c);
  std::vector<tokenizer::chat::Message> msgs;
  RequestImages images{std::move(image_placeholder), {}};
  if (const auto sys = body.find("system"); sys != body.end() && !sys->is_null())
    msgs.push_back({"system", text_of(*sys, "system")});
  const auto m = body.find("messages");
  if (m == body.end()) throw RequestError(400, "'messages' is required", "messages");
  if (!m->is_array() || m->empty()) throw bad("messages", "a non-empty array of messages", *m);
  for (std::size_t i = 0; i < m->size(); ++i) {
    const json& msg = (*m)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!msg.is_object()) throw bad(at, "an object", msg);
    const auto role = msg.find("role");
    if (role == msg.end() || !role->is_string() || (*role != "user" && *role != "assistant"))
      throw RequestError(400, at + ".role must be \"user\" or \"assistant\"", at + ".role");
    const auto content = msg.find("content");
    if (content == msg.end()) throw RequestError(400, at + ".content is required", at + ".content");
    for (auto& turn : read_message(msg, &ordered.at("messages").at(i), at, role->get<std::string>(), images,
                                   bool(format.render_tools)))
      msgs.push_back(std::move(turn));
  }
  std::string prompt;
  try {
    prompt = tools.empty() ? format.render(msgs, true) : format.render_tools(msgs, tools, true);
  } catch (const Error& e) {
    throw RequestError(400, std::string("messages: ") + e.what(), "messages");
  }
  const auto ids = tok.encode(prompt);
  c.prompt.assign(ids.begin(), ids.end());
  c.images = std::move(images.images);
  c.opt.special_tokens_in_text = true;
  for (std::uint32_t id : format.stop_ids)
    if (id < tok.vocab_size()) c.opt.stop_ids.push_back(int(id));
  return c;
}

inline const char* stop_reason(runtime::StopReason r, bool called = false) {
  if (called && r != runtime::StopReason::max_tokens && r != runtime::StopReason::context_exhausted) return "tool_use";
  switch (r) {
    case runtime::StopReason::max_tokens:
    case runtime::StopReason::context_exhausted: return "max_tokens";
    case runtime::StopReason::stop_string: return "stop_sequence";
    default: return "end_turn";
  }
}

/// The stop sequence that ended the reply, or null.
inline json stop_sequence(const runtime::GenerationResult& r) {
  if (r.stop != runtime::StopReason::stop_string) return nullptr;
  return r.stop_string;
}

/// A call's `input`: its arguments as the object they are (a call whose arguments are not an
/// object, which Anthropic's input cannot be, is wrapped as {"value": ...}).
inline json tool_input(const tokenizer::chat::ToolCall& call) {
  json v = json::parse(call.arguments, nullptr, false);
  if (v.is_object()) return v;
  return {{"value", v.is_discarded() ? json(call.arguments) : v}};
}

/// The non-streamed reply.
inline json message(const std::string& id, const std::string& model, const Completion& c,
                    const runtime::GenerationResult& r) {
  const auto reply = c.format.parse(r.text, {.ended = true, .tool_calls = c.tool_calls});
  json content = json::array();
  if (!reply.reasoning.empty()) content.push_back({{"type", "thinking"}, {"thinking", reply.reasoning}, {"signature", ""}});
  if (!reply.content.empty() || reply.tool_calls.empty()) content.push_back({{"type", "text"}, {"text", reply.content}});
  for (std::size_t k = 0; k < reply.tool_calls.size(); ++k)
    content.push_back({{"type", "tool_use"},
                       {"id", "toolu_" + new_call_id()},
                       {"name", reply.tool_calls[k].name},
                       {"input", tool_input(reply.tool_calls[k])}});
  return {{"id", id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", model},
          {"content", content},
          {"stop_reason", stop_reason(r.stop, !reply.tool_calls.empty())},
          {"stop_sequence", stop_sequence(r)},
          {"usage", {{"input_tokens", r.prompt_tokens}, {"output_tokens", r.tokens.size()}}}};
}

/// The SSE events of one streamed reply, in Anthropic's order. Each call returns the text to send.
class EventWriter {
 public:
  EventWriter(std::string id, std::string model, std::int64_t input_tokens)
      : id_(std::move(id)), model_(std::move(model)), input_(input_tokens) {}
  /// The prompt's tokens as the model reads them (known once the request is admitted).
  void set_input_tokens(std::int64_t n) { input_ = n; }

  std::string start() const {
    const json msg = {{"id", id_},          {"type", "message"},     {"role", "assistant"},
                      {"model", model_},    {"content", json::array()}, {"stop_reason", nullptr},
                      {"stop_sequence", nullptr},
                      {"usage", {{"input_tokens", input_}, {"output_tokens", 0}}}};
    return event("message_start", {{"type", "message_start"}, {"message", msg}});
  }
  /// Deltas of the reply's text: a block is opened for each change between thinking and text.
  /// Tool calls: one tool_use block each, its input as one input_json_delta.
  std::string delta(const ChatDeltas::Delta& d) {
    std::string out;
    if (!d.reasoning.empty()) out += piece("thinking", d.reasoning);
    if (!d.content.empty()) out += piece("text", d.content);
    for (std::size_t k = 0; k < d.tool_calls.size(); ++k) {
      out += close();
      open_ = "tool_use";
      const json block = {{"type", "tool_use"},
                          {"id", "toolu_" + new_call_id()},
                          {"name", d.tool_calls[k].name},
                          {"input", json::object()}};
      out += event("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
      out += event("content_block_delta",
                   {{"type", "content_block_delta"},
                    {"index", index_},
                    {"delta", {{"type", "input_json_delta"}, {"partial_json", tool_input(d.tool_calls[k]).dump()}}}});
      out += close();
      called_ = true;
    }
    return out;
  }
  std::string finish(const runtime::GenerationResult& r) {
    std::string out;
    if (index_ == 0 && open_.empty()) out += open("text");  // every message has at least one content block
    out += close();
    out += event("message_delta", {{"type", "message_delta"},
                                   {"delta", {{"stop_reason", stop_reason(r.stop, called_)}, {"stop_sequence", stop_sequence(r)}}},
                                   {"usage", {{"output_tokens", r.tokens.size()}}}});
    out += event("message_stop", {{"type", "message_stop"}});
    return out;
  }
  static std::string event(const char* name, const json& data) {
    return std::string("event: ") + name + "\ndata: " + data.dump() + "\n\n";
  }

 private:
  std::string piece(const std::string& type, const std::string& text) {
    std::string out;
    if (open_ != type) {  // two statements: the order of close() and open() matters
      out += close();
      out += open(type);
    }
    const json delta = type == "text" ? json{{"type", "text_delta"}, {"text", text}}
                                      : json{{"type", "thinking_delta"}, {"thinking", text}};
    out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", delta}});
    return out;
  }
  std::string open(const std::string& type) {
    open_ = type;
    const json block = type == "text" ? json{{"type", "text"}, {"text", ""}}
                                      : json{{"type", "thinking"}, {"thinking", ""}};
    return event("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
  }
  std::string close() {
    if (open_.empty()) return {};
    std::string out;
    if (open_ == "thinking")  // the SDK expects a signature before a thinking block ends
      out += event("content_block_delta", {{"type", "content_block_delta"},
                                           {"index", index_},
                                           {"delta", {{"type", "signature_delta"}, {"signature", ""}}}});
    out += event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
    open_.clear();
    ++index_;
    return out;
  }

  std::string id_, model_;
  std::int64_t input_;
  std::string open_;  // the type of the open block, "" when none
  int index_ = 0;
  bool called_ = false;  // a tool_use block was sent
};

}  // namespace templlm::serve::anthropic
