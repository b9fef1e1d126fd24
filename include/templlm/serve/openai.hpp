// SPDX-License-Identifier: Apache-2.0
/// \file serve/openai.hpp
/// The OpenAI API's request and response shapes (POST /v1/chat/completions, /v1/completions):
/// request JSON -> prompt and runtime::GenerateOptions, each field checked for its type and
/// range (a RequestError naming the field: HTTP 400); results -> the response objects and the
/// streamed chunks. No HTTP here (serve/http_server.hpp); pure functions, thread-safe.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../core/sampling.hpp"
#include "../runtime/generator.hpp"
#include "../tokenizer/chat/any.hpp"
#include "../tokenizer/chat/options.hpp"
#include "images.hpp"
#include "request_error.hpp"

namespace templlm::serve {

using nlohmann::json;


/// {"error": {"message", "type", "param", "code"}}
inline json error_body(std::string_view message, std::string_view type, std::string_view param = {}) {
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  return {{"error", e}};
}

namespace detail {

inline RequestError bad(const std::string& field, const std::string& expected, const json& found) {
  std::string f = found.dump();
  if (f.size() > 60) f = f.substr(0, 57) + "...";
  return RequestError(400, "'" + field + "' must be " + expected + ", got " + f, field);
}

/// body[key] as a number in [lo, hi], or nullopt when absent or null.
inline std::optional<double> number(const json& body, const std::string& key, double lo, double hi,
                                    const std::string& range) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw bad(key, "a number " + range, *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) throw bad(key, "a number " + range, *it);
  return v;
}

/// body[key] as an integer in [lo, hi], or nullopt when absent or null.
inline std::optional<std::int64_t> integer(const json& body, const std::string& key, std::int64_t lo, std::int64_t hi) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (u > std::uint64_t(hi) || (lo > 0 && u < std::uint64_t(lo))) throw bad(key, range, *it);
    return std::int64_t(u);
  }
  if (!it->is_number_integer()) throw bad(key, range, *it);
  const auto v = it->get<std::int64_t>();
  if (v < lo || v > hi) throw bad(key, range, *it);
  return v;
}

inline std::optional<bool> boolean(const json& body, const std::string& key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw bad(key, "true or false", *it);
  return it->get<bool>();
}

}  // namespace detail

/// The served model's chat format, and the same format under a request's own switches
/// (reasoning effort, thinking on or off). `with` may be empty: switches are then refused.
struct ChatFormats {
  tokenizer::chat::AnyChat base;
  std::function<tokenizer::chat::AnyChat(const tokenizer::chat::ChatOptions&)> with;

  /// The format for a request that asks for `o` (nullopt: the base).
  tokenizer::chat::AnyChat pick(const std::optional<tokenizer::chat::ChatOptions>& o, const char* field) const {
    if (!o) return base;
    if (!with) throw RequestError(400, std::string("'") + field + "' is not supported for this model", field);
    return with(*o);
  }
};

/// What the server does with one request: its prompt, options, and how to answer.
struct Completion {
  std::vector<int> prompt;
  runtime::GenerateOptions opt;
  int n = 1;                     // choices, each its own request (seed + i)
  bool stream = false, include_usage = false;
  bool chat = false;
  tokenizer::chat::AnyChat format;  // chat: renders the prompt and parses the reply
  std::vector<io::Image> images;    // chat: in the order of their placeholders in `prompt`
  bool tool_calls = false;          // chat: tools declared (tool_choice "auto"): parse calls back
};

/// The parameters both endpoints share. `limit`: the model's context, for max_tokens' default.
/// `tools` and `tool_choice` are the chat endpoint's (read_tools); elsewhere they are refused.
inline void read_sampling(const json& body, Completion& c, std::int64_t default_max_tokens) {
  using namespace detail;
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  for (const char* unsupported : {"tools", "tool_choice", "functions", "response_format", "logit_bias", "suffix",
                                  "echo", "best_of"}) {
    if (c.chat && (std::string_view(unsupported) == "tools" || std::string_view(unsupported) == "tool_choice"))
      continue;
    const auto it = body.find(unsupported);
    if (it == body.end() || it->is_null() || (it->is_boolean() && !it->get<bool>()) ||
        (it->is_number() && it->get<double>() == 0))
      continue;
    throw RequestError(400, std::string("'") + unsupported + "' is not supported by this server yet", unsupported);
  }
  auto& s = c.opt.sampling;
  s.temperature = float(number(body, "temperature", 0, 1e6, ">= 0 (0 = greedy)").value_or(1.0));
  s.top_p = float(number(body, "top_p", 0, 1, "in (0, 1]").value_or(1.0));
  if (!(s.top_p > 0)) throw bad("top_p", "a number in (0, 1]", body["top_p"]);
  s.top_k = int(integer(body, "top_k", -1, std::numeric_limits<int>::max()).value_or(0));
  if (s.top_k < 0) s.top_k = 0;  // vLLM's -1 = off
  s.min_p = float(number(body, "min_p", 0, 1, "in [0, 1]").value_or(0.0));
  s.presence_penalty = float(number(body, "presence_penalty", -2, 2, "in [-2, 2]").value_or(0.0));
  s.frequency_penalty = float(number(body, "frequency_penalty", -2, 2, "in [-2, 2]").value_or(0.0));
  s.repetition_penalty = float(number(body, "repetition_penalty", 1e-6, 1e6, "> 0").value_or(1.0));
  s.seed = std::uint64_t(integer(body, "seed", std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max())
                             .value_or(0));
  const auto max_completion = integer(body, "max_completion_tokens", 1, std::numeric_limits<int>::max());
  const auto max_tokens = integer(body, "max_tokens", 1, std::numeric_limits<int>::max());
  c.opt.max_tokens = int(max_completion.value_or(max_tokens.value_or(default_max_tokens)));
  c.n = int(integer(body, "n", 1, 16).value_or(1));
  c.stream = boolean(body, "stream").value_or(false);
  if (const auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) throw bad("stream_options", "an object", *so);
    c.include_usage = boolean(*so, "include_usage").value_or(false);
  }
  if (const auto st = body.find("stop"); st != body.end() && !st->is_null()) {
    if (st->is_string()) {
      c.opt.stop_strings.push_back(st->get<std::string>());
    } else if (st->is_array() && st->size() <= 16) {
      for (const auto& x : *st) {
        if (!x.is_string()) throw bad("stop", "a string or an array of up to 16 strings", *st);
        c.opt.stop_strings.push_back(x.get<std::string>());
      }
    } else {
      throw bad("stop", "a string or an array of up to 16 strings", *st);
    }
    for (const auto& x : c.opt.stop_strings)
      if (x.empty()) throw bad("stop", "non-empty strings", *st);
  }
}

/// The chat switches a request names: OpenAI's `reasoning_effort` (harmony's reasoning level)
/// and `chat_template_kwargs.enable_thinking` (Qwen3's switch, as vLLM and SGLang take it).
inline std::optional<tokenizer::chat::ChatOptions> chat_switches(const json& body) {
  std::optional<tokenizer::chat::ChatOptions> o;
  if (const auto r = body.find("reasoning_effort"); r != body.end() && !r->is_null()) {
    if (!r->is_string() || (*r != "low" && *r != "medium" && *r != "high"))
      throw detail::bad("reasoning_effort", "\"low\", \"medium\" or \"high\"", *r);
    o.emplace().reasoning = r->get<std::string>();
  }
  if (const auto k = body.find("chat_template_kwargs"); k != body.end() && !k->is_null()) {
    if (!k->is_object()) throw detail::bad("chat_template_kwargs", "an object", *k);
    if (const auto t = detail::boolean(*k, "enable_thinking")) {
      if (!o) o.emplace();
      o->thinking = *t;
    }
  }
  return o;
}

namespace detail {

/// The request body with its keys in the order the client wrote them (nlohmann::json sorts
/// them), for what the chat templates print back: tool definitions and object arguments.
inline nlohmann::ordered_json ordered_body(const json& body, std::string_view raw) {
  if (!raw.empty()) {
    auto o = nlohmann::ordered_json::parse(raw, nullptr, false);
    if (o.is_object()) return o;
  }
  return nlohmann::ordered_json::parse(body.dump());
}

/// `tools` ([{"type": "function", "function": {"name", "description", "parameters"}}]) and
/// `tool_choice` ("auto", the default with tools, or "none": rendered, not parsed back).
/// "required" and a named function need decoding constrained to a call, which this server does
/// not have: refused, never ignored.
inline std::vector<tokenizer::chat::Tool> read_tools(const json& body, const nlohmann::ordered_json& ordered,
                                                     const tokenizer::chat::AnyChat& format, Completion& c) {
  std::vector<tokenizer::chat::Tool> tools;
  const auto t = body.find("tools");
  if (t == body.end() || t->is_null()) {
    if (const auto ch = body.find("tool_choice"); ch != body.end() && !ch->is_null() && *ch != "none" && *ch != "auto")
      throw bad("tool_choice", "\"none\" or \"auto\" without tools", *ch);
    return tools;
  }
  const std::string expected = "an array of {\"type\": \"function\", \"function\": {\"name\": ...}} objects";
  if (!t->is_array()) throw bad("tools", expected, *t);
  if (!t->empty() && !format.render_tools)
    throw RequestError(400, "'tools': function calling is not supported for this model's chat format yet", "tools");
  for (std::size_t i = 0; i < t->size(); ++i) {
    const json& tool = (*t)[i];
    const std::string at = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") ||
        !tool["function"].is_object())
      throw bad(at, "{\"type\": \"function\", \"function\": {...}}", tool);
    const json& f = tool["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
      throw bad(at + ".function.name", "a non-empty string", f.value("name", json()));
    if (f.contains("parameters") && !f["parameters"].is_null() && !f["parameters"].is_object())
      throw bad(at + ".function.parameters", "a JSON Schema object", f["parameters"]);
    tools.push_back({f["name"].get<std::string>(), ordered.at("tools").at(i)});
  }
  c.tool_calls = !tools.empty();
  if (const auto ch = body.find("tool_choice"); ch != body.end() && !ch->is_null()) {
    if (*ch == "none") {
      c.tool_calls = false;
    } else if (*ch == "required" || ch->is_object()) {
      throw RequestError(400, "'tool_choice' " + ch->dump() + " needs decoding constrained to a call, which this "
                              "server does not have yet; use \"auto\"", "tool_choice");
    } else if (*ch != "auto") {
      throw bad("tool_choice", "\"auto\" or \"none\"", *ch);
    }
  }
  return tools;
}

/// An assistant message's `tool_calls` ([{"id", "type": "function", "function": {"name",
/// "arguments": a JSON string (or object)}}]).
inline std::vector<tokenizer::chat::ToolCall> read_tool_calls(const json& calls, const nlohmann::ordered_json& ordered,
                                                              const std::string& at) {
  std::vector<tokenizer::chat::ToolCall> out;
  if (calls.is_null()) return out;
  if (!calls.is_array()) throw bad(at, "an array of tool calls", calls);
  for (std::size_t k = 0; k < calls.size(); ++k) {
    const json& call = calls[k];
    const std::string ck = at + "[" + std::to_string(k) + "]";
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
      throw bad(ck, "{\"type\": \"function\", \"function\": {\"name\", \"arguments\"}}", call);
    const json& f = call["function"];
    if (!f.contains("name") || !f["name"].is_string()) throw bad(ck + ".function.name", "a string", f.value("name", json()));
    // A string that holds a JSON object goes to the template as that object, as vLLM passes it
    // (the templates and the models' training take objects); any other string stays a string.
    tokenizer::chat::ToolCall tc{call.value("id", std::string()), f["name"].get<std::string>(), "{}"};
    if (const auto a = f.find("arguments"); a != f.end()) {
      if (a->is_string()) {
        const auto parsed = nlohmann::ordered_json::parse(a->get<std::string>(), nullptr, false);
        tc.arguments_as_string = !parsed.is_object();
        tc.arguments = parsed.is_object() ? tokenizer::chat::py_json_dumps(parsed) : a->get<std::string>();
      } else if (a->is_object()) {
        tc.arguments = tokenizer::chat::py_json_dumps(ordered.at(k).at("function").at("arguments"));
      } else {
        throw bad(ck + ".function.arguments", "a JSON string", *a);
      }
    }
    out.push_back(std::move(tc));
  }
  return out;
}

}  // namespace detail

/// POST /v1/chat/completions: messages rendered by the model's chat format. Content parts are
/// text, or `image_url` with a data: URL when the model takes images (`image_placeholder`, the
/// text that stands for one in the prompt; empty: it takes none).
/// `raw_body`: the body's text, for the key order of tools and object arguments (sorted when
/// absent). With `tools`, calls in the reply come back as `tool_calls` (read_tools).
inline Completion read_chat(const json& body, const ChatFormats& formats, const tokenizer::Tokenizer& tok,
                            std::int64_t default_max_tokens, std::string image_placeholder = {},
                            std::string_view raw_body = {}) {
  Completion c;
  c.chat = true;
  read_sampling(body, c, default_max_tokens);
  c.format = formats.pick(chat_switches(body), "reasoning_effort");
  const tokenizer::chat::AnyChat& format = c.format;
  bool tool_parts = body.contains("tools");
  if (const auto ms = body.find("messages"); ms != body.end() && ms->is_array())
    for (const json& msg : *ms) tool_parts = tool_parts || (msg.is_object() && msg.contains("tool_calls"));
  const nlohmann::ordered_json ordered = tool_parts ? detail::ordered_body(body, raw_body) : nlohmann::ordered_json();
  const auto tools = detail::read_tools(body, ordered, format, c);
  if (const auto lp = detail::boolean(body, "logprobs"); lp && *lp) c.opt.logprobs = true;
  if (const auto top = detail::integer(body, "top_logprobs", 0, 20)) {
    if (*top > 0 && !c.opt.logprobs)
      throw RequestError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
    c.opt.top_logprobs = int(*top);
  }
  const auto m = body.find("messages");
  if (m == body.end()) throw RequestError(400, "'messages' is required", "messages");
  if (!m->is_array() || m->empty()) throw detail::bad("messages", "a non-empty array of messages", *m);
  std::vector<tokenizer::chat::Message> msgs;
  RequestImages images{std::move(image_placeholder), {}};
  for (std::size_t i = 0; i < m->size(); ++i) {
    const json& msg = (*m)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!msg.is_object()) throw detail::bad(at, "an object", msg);
    const auto role = msg.find("role");
    if (role == msg.end() || !role->is_string()) throw RequestError(400, at + ".role must be a string", at + ".role");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";
    std::string text;
    const auto content = msg.find("content");
    if (content == msg.end() || content->is_null()) {
    } else if (content->is_string()) {
      text = content->get<std::string>();
    } else if (content->is_array()) {
      for (std::size_t k = 0; k < content->size(); ++k) {
        const json& part = (*content)[k];
        const std::string pat = at + ".content[" + std::to_string(k) + "]";
        const std::string type = part.is_object() ? part.value("type", "") : "";
        if (type == "image_url") {
          const auto u = part.find("image_url");
          const json* url = u == part.end() ? nullptr : u->is_string() ? &*u : u->is_object() && u->contains("url") ? &(*u)["url"] : nullptr;
          if (url == nullptr || !url->is_string())
            throw RequestError(400, pat + ".image_url: expected {\"url\": \"data:image/png;base64,...\"}", pat + ".image_url");
          text += images.add(data_url_bytes(url->get<std::string>(), pat + ".image_url.url"), pat + ".image_url");
          continue;
        }
        if (type != "text" || !part.contains("text") || !part["text"].is_string())
          throw RequestError(400, pat + ": only text parts ({\"type\": \"text\", \"text\": ...}) and image_url parts "
                                        "are supported", pat);
        text += part["text"].get<std::string>();
      }
    } else {
      throw detail::bad(at + ".content", "a string or an array of text and image_url parts", *content);
    }
    tokenizer::chat::Message message{std::move(r), std::move(text)};
    if ((msg.contains("tool_calls") && !msg["tool_calls"].is_null()) || message.role == "tool") {
      if (!format.render_tools)  // its render would leave them out
        throw RequestError(400, at + ": tool calls and tool results are not supported for this model's chat format yet",
                           at);
      if (message.role == "tool") {
        if (const auto id = msg.find("tool_call_id"); id != msg.end() && !id->is_null()) {
          if (!id->is_string()) throw detail::bad(at + ".tool_call_id", "a string", *id);
          message.tool_call_id = id->get<std::string>();
        }
      } else if (message.role == "assistant") {
        message.tool_calls = detail::read_tool_calls(msg["tool_calls"], ordered.at("messages").at(i).at("tool_calls"),
                                                     at + ".tool_calls");
      } else {
        throw RequestError(400, at + ".tool_calls: only assistant messages make tool calls", at + ".tool_calls");
      }
    }
    if (const auto rc = msg.find("reasoning_content"); message.role == "assistant" && rc != msg.end() && !rc->is_null()) {
      if (!rc->is_string()) throw detail::bad(at + ".reasoning_content", "a string", *rc);
      message.reasoning_content = rc->get<std::string>();
    }
    msgs.push_back(std::move(message));
  }
  std::string prompt;
  try {
    prompt = tools.empty() ? format.render(msgs, true) : format.render_tools(msgs, tools, true);
  } catch (const Error& e) {  // the format's own rule (e.g. Mistral's alternating roles)
    throw RequestError(400, std::string("messages: ") + e.what(), "messages");
  }
  const auto ids = tok.encode(prompt);
  c.prompt.assign(ids.begin(), ids.end());
  c.images = std::move(images.images);
  c.opt.special_tokens_in_text = true;  // the format's parser reads its markers
  for (std::uint32_t id : format.stop_ids)
    if (id < tok.vocab_size()) c.opt.stop_ids.push_back(int(id));
  return c;
}

/// POST /v1/completions: a prompt string (or an array of token ids).
inline Completion read_completion(const json& body, const tokenizer::Tokenizer& tok, std::int64_t vocab,
                                  std::int64_t default_max_tokens) {
  Completion c;
  read_sampling(body, c, default_max_tokens);
  if (const auto lp = detail::integer(body, "logprobs", 0, 0); lp) c.opt.logprobs = false;  // only 0/null
  const auto p = body.find("prompt");
  if (p == body.end()) throw RequestError(400, "'prompt' is required", "prompt");
  if (p->is_string()) {
    const auto ids = tok.encode(p->get<std::string>());
    c.prompt.assign(ids.begin(), ids.end());
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    for (const json& x : *p) {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::int64_t>() >= vocab)
        throw detail::bad("prompt", "a string or an array of token ids in [0, " + std::to_string(vocab) + ")", x);
      c.prompt.push_back(x.get<int>());
    }
  } else {
    throw detail::bad("prompt", "a string or an array of token ids", *p);
  }
  if (c.prompt.empty()) throw RequestError(400, "'prompt' has no tokens", "prompt");
  return c;
}

inline const char* finish_reason(runtime::StopReason r) {
  switch (r) {
    case runtime::StopReason::max_tokens:
    case runtime::StopReason::context_exhausted: return "length";
    case runtime::StopReason::cancelled: return "cancelled";
    default: return "stop";
  }
}

/// finish_reason of a chat choice: "tool_calls" when the reply ended (not cut) after calls.
inline const char* chat_finish_reason(runtime::StopReason r, bool called) {
  return called && r != runtime::StopReason::max_tokens && r != runtime::StopReason::context_exhausted &&
                 r != runtime::StopReason::cancelled
             ? "tool_calls"
             : finish_reason(r);
}

/// A new tool call id: 9 letters and digits, unique within the server's run (a counter through
/// SplitMix64 from a random start). Nine alphanumerics because Mistral's template refuses any
/// other id when a client sends the call back; OpenAI's clients take any string.
inline std::string new_call_id() {
  static const std::uint64_t start = (std::uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t x = sampling::mix64(start + counter.fetch_add(1));
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string id(9, '0');
  for (char& c : id) {
    c = digits[x % 62];
    x /= 62;
  }
  return id;
}

/// OpenAI's tool_calls array; `first`: the index of calls[0] in the reply (streamed deltas
/// carry it).
inline json tool_calls_json(const std::vector<tokenizer::chat::ToolCall>& calls, std::size_t first, bool with_index) {
  json out = json::array();
  for (std::size_t k = 0; k < calls.size(); ++k) {
    json call = {{"id", new_call_id()},
                 {"type", "function"},
                 {"function", {{"name", calls[k].name}, {"arguments", calls[k].arguments}}}};
    if (with_index) call["index"] = first + k;
    out.push_back(std::move(call));
  }
  return out;
}

inline json usage(std::int64_t prompt, std::int64_t completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

/// Streams a chat reply's text as it grows: content and reasoning deltas from the format's
/// parser run over the text so far, holding back a tail that may still become a marker
/// (`<...`, `[...`), so no partial control token reaches `content`; tool calls are sent whole,
/// each once the parser has it complete (a half-written call is never content).
///
/// Cost: a piece of plain text (no `<`, `[` or newline) that lands after a reply field which
/// ends the text (the part the parser is inside) extends that field without a re-parse, so a
/// long reply costs one parse per line or marker, not one per token.
class ChatDeltas {
 public:
  /// tool_calls: the request declared tools (tokenizer::chat::ParseOptions).
  explicit ChatDeltas(tokenizer::chat::AnyChat f, bool tool_calls = false)
      : f_(std::move(f)), tool_calls_(tool_calls) {}
  struct Delta {
    std::string content, reasoning;
    std::vector<tokenizer::chat::ToolCall> tool_calls;  // calls completed by this piece
    std::size_t first_call = 0;                          // index of tool_calls[0] in the reply
  };
  Delta add(std::string_view piece, bool final) {
    text_ += piece;
    if (!final && open_ != Open::none && piece.find_first_of("<[\n") == std::string_view::npos) {
      std::string& sent = open_ == Open::content ? content_ : reasoning_;
      sent += piece;
      return open_ == Open::content ? Delta{std::string(piece), {}, {}, calls_} : Delta{{}, std::string(piece), {}, calls_};
    }
    std::size_t upto = text_.size();
    if (!final) {
      const std::size_t open = text_.find_last_of("<[");
      if (open != std::string::npos && text_.size() - open <= 48 &&
          text_.find_first_of(">]", open) == std::string::npos)
        upto = open;
    }
    const std::string_view parsed = std::string_view(text_).substr(0, upto);
    const auto reply = f_.parse(parsed, {.ended = final, .tool_calls = tool_calls_});
    Delta d{suffix(reply.content, content_), suffix(reply.reasoning, reasoning_), {}, calls_};
    if (reply.tool_calls.size() > calls_) {
      d.tool_calls.assign(reply.tool_calls.begin() + std::ptrdiff_t(calls_), reply.tool_calls.end());
      calls_ = reply.tool_calls.size();
    }
    // The field the parser is inside: the one (non-empty, sent in full) that ends the text.
    const bool c = !reply.complete && upto == text_.size() && !content_.empty() &&
                   content_ == reply.content && parsed.ends_with(content_);
    const bool r = !reply.complete && upto == text_.size() && !reasoning_.empty() &&
                   reasoning_ == reply.reasoning && parsed.ends_with(reasoning_);
    open_ = c == r ? Open::none : c ? Open::content : Open::reasoning;
    return d;
  }

 private:
  enum class Open { none, content, reasoning };
  /// What `now` adds to what was sent; nothing while the parse disagrees with it.
  static std::string suffix(const std::string& now, std::string& sent) {
    if (now.size() <= sent.size() || now.compare(0, sent.size(), sent) != 0) return {};
    std::string d = now.substr(sent.size());
    sent = now;
    return d;
  }
  tokenizer::chat::AnyChat f_;
  bool tool_calls_ = false;
  std::string text_, content_, reasoning_;
  std::size_t calls_ = 0;  // tool calls sent
  Open open_ = Open::none;
};

}  // namespace templlm::serve
