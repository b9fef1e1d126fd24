// SPDX-License-Identifier: Apache-2.0
/// \file serve/openai.hpp
/// The OpenAI API's request and response shapes (POST /v1/chat/completions, /v1/completions):
/// request JSON -> prompt and runtime::GenerateOptions, each field checked for its type and
/// range (a RequestError naming the field: HTTP 400); results -> the response objects and the
/// streamed chunks. No HTTP here (serve/http_server.hpp); pure functions, thread-safe.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
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
};

/// The parameters both endpoints share. `limit`: the model's context, for max_tokens' default.
inline void read_sampling(const json& body, Completion& c, std::int64_t default_max_tokens) {
  using namespace detail;
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  for (const char* unsupported : {"tools", "tool_choice", "functions", "response_format", "logit_bias", "suffix",
                                  "echo", "best_of", "top_logprobs"}) {
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

/// POST /v1/chat/completions: messages rendered by the model's chat format. Content parts are
/// text, or `image_url` with a data: URL when the model takes images (`image_placeholder`, the
/// text that stands for one in the prompt; empty: it takes none).
inline Completion read_chat(const json& body, const ChatFormats& formats, const tokenizer::Tokenizer& tok,
                            std::int64_t default_max_tokens, std::string image_placeholder = {}) {
  Completion c;
  c.chat = true;
  read_sampling(body, c, default_max_tokens);
  c.format = formats.pick(chat_switches(body), "reasoning_effort");
  const tokenizer::chat::AnyChat& format = c.format;
  if (const auto lp = detail::boolean(body, "logprobs"); lp && *lp) {
    if (c.stream) throw RequestError(400, "'logprobs' with 'stream' is not supported by this server yet", "logprobs");
    c.opt.logprobs = true;
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
    if (msg.contains("tool_calls") || r == "tool")
      throw RequestError(400, at + ": tool calls are not supported by this server yet", at);
    msgs.push_back({std::move(r), std::move(text)});
  }
  std::string prompt;
  try {
    prompt = format.render(msgs, true);
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

inline json usage(std::int64_t prompt, std::int64_t completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

/// Streams a chat reply's text as it grows: content and reasoning deltas from the format's
/// parser run over the text so far, holding back a tail that may still become a marker
/// (`<...`, `[...`), so no partial control token reaches `content`.
///
/// Cost: a piece of plain text (no `<`, `[` or newline) that lands after a reply field which
/// ends the text (the part the parser is inside) extends that field without a re-parse, so a
/// long reply costs one parse per line or marker, not one per token.
class ChatDeltas {
 public:
  explicit ChatDeltas(tokenizer::chat::AnyChat f) : f_(std::move(f)) {}
  struct Delta {
    std::string content, reasoning;
  };
  Delta add(std::string_view piece, bool final) {
    text_ += piece;
    if (!final && open_ != Open::none && piece.find_first_of("<[\n") == std::string_view::npos) {
      std::string& sent = open_ == Open::content ? content_ : reasoning_;
      sent += piece;
      return open_ == Open::content ? Delta{std::string(piece), {}} : Delta{{}, std::string(piece)};
    }
    std::size_t upto = text_.size();
    if (!final) {
      const std::size_t open = text_.find_last_of("<[");
      if (open != std::string::npos && text_.size() - open <= 48 &&
          text_.find_first_of(">]", open) == std::string::npos)
        upto = open;
    }
    const std::string_view parsed = std::string_view(text_).substr(0, upto);
    const auto reply = f_.parse(parsed);
    Delta d{suffix(reply.content, content_), suffix(reply.reasoning, reasoning_)};
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
  std::string text_, content_, reasoning_;
  Open open_ = Open::none;
};

}  // namespace templlm::serve
