// SPDX-License-Identifier: Apache-2.0
/// \file serve/http_server.hpp
/// The HTTP face of a Scheduler (cpp-httplib, Debian's libcpp-httplib-dev): the OpenAI routes
/// (POST /v1/chat/completions, /v1/completions; GET /v1/models), Anthropic's POST /v1/messages,
/// GET /health and GET /metrics.
/// Handler threads parse and check a request (serve/openai.hpp), submit it and stream its tokens
/// back; a client that disconnects cancels its request. Errors are OpenAI-shaped JSON with their
/// status: 400 (a field, named), 401 (a missing or wrong API key), 404, 503 (queue full), 500.
///
/// Thread safety: listen() blocks the calling thread; stop() may be called from any thread.
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "anthropic.hpp"
#include "openai.hpp"
#include "scheduler.hpp"

namespace templlm::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;           // empty: no authentication
  int http_threads = 64;         // concurrent connections served (streams hold one each)
  std::int64_t default_max_tokens = 256;
};

/// What the routes need to know of the loaded model.
struct ServedModel {
  std::string id;  // the name clients send as "model" (not checked: one model per server)
  const tokenizer::Tokenizer* tokenizer;
  ChatFormats chat;
  std::int64_t vocab = 0;
  std::string image_placeholder;  // what stands for an image in a prompt; empty: takes no images
};

class HttpServer {
 public:
  HttpServer(Scheduler& scheduler, ServedModel model, ServerOptions o)
      : sched_(scheduler), model_(std::move(model)), o_(std::move(o)) {
    const int threads = o_.http_threads;
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(std::size_t(threads)); };
    server_.set_payload_max_length(64u << 20);
    routes();
  }

  /// Binds host:port; false when it cannot. Then listen_after_bind() serves until stop().
  bool bind_to(const std::string& host, int port) { return server_.bind_to_port(host.c_str(), port); }
  /// Binds host to a free port and returns it (-1 on failure).
  int bind_any_port() { return server_.bind_to_any_port(o_.host.c_str()); }
  bool listen_after_bind() { return server_.listen_after_bind(); }
  bool running() const { return server_.is_running(); }
  void stop() { server_.stop(); }

 private:
  using Req = httplib::Request;
  using Res = httplib::Response;

  static std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  /// An error in the route's API shape (OpenAI's or, for /v1/messages, Anthropic's).
  enum class Api { openai, anthropic };
  void send_error(Res& res, int status, std::string_view message, std::string_view type, std::string_view param = {},
                  Api api = Api::openai) {
    res.status = status;
    if (api == Api::anthropic) {
      // Anthropic's error types by status.
      const std::string_view t = status == 401   ? "authentication_error"
                                 : status == 404 ? "not_found_error"
                                 : status == 503 ? "overloaded_error"
                                 : status >= 500 ? "api_error"
                                                 : "invalid_request_error";
      res.set_content(anthropic::error_body(message, t).dump(), "application/json");
      return;
    }
    res.set_content(error_body(message, type, param).dump(), "application/json");
  }

  bool authorized(const Req& req, Res& res, Api api) {
    if (o_.api_key.empty()) return true;
    const std::string want = "Bearer " + o_.api_key;
    if (req.get_header_value("Authorization") == want || req.get_header_value("x-api-key") == o_.api_key) return true;
    send_error(res, 401, "a valid API key is required (Authorization: Bearer KEY, or x-api-key: KEY)",
               "authentication_error", {}, api);
    return false;
  }

  /// Runs a handler, turning each failure into its OpenAI-shaped response.
  template <class F>
  void guarded(const Req& req, Res& res, F&& f, Api api = Api::openai) {
    if (!authorized(req, res, api)) return;
    try {
      f();
    } catch (const RequestError& e) {
      send_error(res, e.status(), e.what(), e.type(), e.param(), api);
    } catch (const QueueFull& e) {
      send_error(res, 503, e.what(), "server_busy", {}, api);
    } catch (const InvalidInput& e) {  // the engine's checks (context, sampling) at submit
      send_error(res, 400, e.what(), "invalid_request_error", {}, api);
    } catch (const std::exception& e) {
      send_error(res, 500, e.what(), "server_error", {}, api);
    }
  }

  static json parse_body(const Req& req) {
    try {
      return json::parse(req.body);
    } catch (const json::exception& e) {
      throw RequestError(400, std::string("the request body is not JSON: ") + e.what());
    }
  }

  void routes() {
    server_.Get("/health", [](const Req&, Res& res) { res.set_content(R"({"status":"ok"})", "application/json"); });
    server_.Get("/v1/models", [this](const Req& req, Res& res) {
      guarded(req, res, [&] {
        const json m = {{"id", model_.id}, {"object", "model"}, {"created", started_}, {"owned_by", "templlm"}};
        res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
      });
    });
    server_.Get("/metrics", [this](const Req&, Res& res) { res.set_content(metrics(), "text/plain; version=0.0.4"); });
    server_.Post("/v1/chat/completions", [this](const Req& req, Res& res) {
      guarded(req, res, [&] {
        const json body = parse_body(req);
        complete(res, read_chat(body, model_.chat, *model_.tokenizer, o_.default_max_tokens, model_.image_placeholder,
                                req.body));
      });
    });
    server_.Post("/v1/completions", [this](const Req& req, Res& res) {
      guarded(req, res, [&] {
        const json body = parse_body(req);
        complete(res, read_completion(body, *model_.tokenizer, model_.vocab, o_.default_max_tokens));
      });
    });
    server_.Post("/v1/messages", [this](const Req& req, Res& res) {
      guarded(
          req, res,
          [&] {
            const json body = parse_body(req);
            messages(res, anthropic::read_messages(body, model_.chat, *model_.tokenizer, model_.image_placeholder,
                                                   req.body));
          },
          Api::anthropic);
    });
    server_.set_error_handler([this](const Req&, Res& res) {
      if (res.status == 404 && res.body.empty())
        send_error(res, 404, "no such route", "invalid_request_error");
    });
  }

  std::vector<std::shared_ptr<Stream>> submit_all(const Completion& c) {
    std::vector<std::shared_ptr<Stream>> streams;
    try {
      for (int i = 0; i < c.n; ++i) {
        runtime::GenerateOptions opt = c.opt;
        opt.sampling.seed += std::uint64_t(i);
        streams.push_back(sched_.submit(c.prompt, std::move(opt), c.images));
      }
    } catch (...) {
      for (auto& s : streams) s->cancel();
      throw;
    }
    return streams;
  }

  /// A choice's message (chat) or text, and its finish_reason.
  std::pair<json, const char*> message_of(const Completion& c, const runtime::GenerationResult& r) const {
    if (!c.chat) return {r.text, finish_reason(r.stop)};
    const auto reply = c.format.parse(r.text, {.ended = true, .tool_calls = c.tool_calls});
    json m = {{"role", "assistant"}, {"content", reply.content}};
    if (!reply.reasoning.empty()) m["reasoning_content"] = reply.reasoning;
    if (!reply.tool_calls.empty()) {
      m["tool_calls"] = tool_calls_json(reply.tool_calls, 0, false);
      if (reply.content.empty()) m["content"] = nullptr;  // as OpenAI answers a call
    }
    return {m, chat_finish_reason(r.stop, !reply.tool_calls.empty())};
  }

  /// One token's entry of OpenAI's logprobs.content: its text, log p, bytes and the top
  /// alternatives.
  json logprob_entry(int token, float logprob, const std::vector<std::pair<int, float>>& top) const {
    auto piece_of = [&](int id) { return model_.tokenizer->decode(std::vector<std::uint32_t>{std::uint32_t(id)}); };
    auto bytes_of = [](const std::string& p) {
      std::vector<int> b;
      for (const char ch : p) b.push_back(static_cast<unsigned char>(ch));
      return b;
    };
    const std::string piece = piece_of(token);
    json alternatives = json::array();
    for (const auto& [id, lp] : top) {
      const std::string alt = piece_of(id);
      alternatives.push_back({{"token", alt}, {"logprob", lp}, {"bytes", bytes_of(alt)}});
    }
    return {{"token", piece}, {"logprob", logprob}, {"bytes", bytes_of(piece)}, {"top_logprobs", alternatives}};
  }

  json logprobs_of(const runtime::GenerationResult& r) const {
    json content = json::array();
    for (std::size_t i = 0; i < r.tokens.size() && i < r.logprobs.size(); ++i)
      content.push_back(logprob_entry(r.tokens[i], r.logprobs[i],
                                      i < r.top_logprobs.size() ? r.top_logprobs[i] : std::vector<std::pair<int, float>>{}));
    return {{"content", content}};
  }

  void complete(Res& res, Completion c) {
    auto streams = submit_all(c);
    const std::string id = (c.chat ? "chatcmpl-" : "cmpl-") + std::to_string(++next_id_);
    const std::int64_t created = now_seconds();
    if (!c.stream) {
      json choices = json::array();
      std::int64_t completion_tokens = 0;
      std::int64_t prompt_tokens = 0;
      for (std::size_t i = 0; i < streams.size(); ++i) {
        Event e;
        while (streams[i]->next(e)) {
        }
        const auto& r = streams[i]->result();
        completion_tokens += std::int64_t(r.tokens.size());
        prompt_tokens += r.prompt_tokens;
        auto [message, finish] = message_of(c, r);
        json choice = {{"index", i}, {"finish_reason", finish}, {"logprobs", nullptr}};
        if (c.opt.logprobs) choice["logprobs"] = logprobs_of(r);
        choice[c.chat ? "message" : "text"] = std::move(message);
        choices.push_back(std::move(choice));
      }
      const json out = {{"id", id},
                        {"object", c.chat ? "chat.completion" : "text_completion"},
                        {"created", created},
                        {"model", model_.id},
                        {"choices", choices},
                        {"usage", usage(prompt_tokens, completion_tokens)}};
      res.set_content(out.dump(), "application/json");
      return;
    }
    // Streaming: one SSE chunk per token with text, choices interleaved in index order.
    auto st = std::make_shared<OpenAiStream>(OpenAiStream{std::move(c), std::move(streams), {}, id, model_.id, created});
    for (std::size_t i = 0; i < st->streams.size(); ++i) st->deltas.emplace_back(st->c.format, st->c.tool_calls);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, st](std::size_t, httplib::DataSink& sink) {
          // Nothing may escape into httplib (it would end the process): a failure is an error event.
          try {
            return stream_openai(*st, sink);
          } catch (const std::exception& ex) {
            const std::string line = "data: " + error_body(ex.what(), "server_error").dump() + "\n\n";
            sink.write(line.data(), line.size());
            sink.done();
            return true;
          }
        },
        [st](bool success) {  // the connection is gone: whatever still runs is cancelled
          if (!success)
            for (auto& s : st->streams) s->cancel();
        });
  }

  struct OpenAiStream {
    Completion c;
    std::vector<std::shared_ptr<Stream>> streams;
    std::vector<ChatDeltas> deltas;
    std::string id, model;
    std::int64_t created;
  };

  /// Writes one OpenAI SSE stream; false when the client is gone.
  bool stream_openai(OpenAiStream& state, httplib::DataSink& sink) {
    OpenAiStream* st = &state;
    auto send = [&](const json& chunk) {
      const std::string line = "data: " + chunk.dump() + "\n\n";
      return sink.write(line.data(), line.size());
    };
    auto chunk = [&](json choices) {
      return json{{"id", st->id},
                  {"object", st->c.chat ? "chat.completion.chunk" : "text_completion"},
                  {"created", st->created},
                  {"model", st->model},
                  {"choices", std::move(choices)}};
    };
    std::int64_t completion_tokens = 0;
    for (std::size_t i = 0; i < st->streams.size(); ++i) {
      Stream& s = *st->streams[i];
      bool called = false;
      auto chat_delta = [&](const ChatDeltas::Delta& d) {
        json delta = json::object();
        if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
        if (!d.content.empty()) delta["content"] = d.content;
        if (!d.tool_calls.empty()) delta["tool_calls"] = tool_calls_json(d.tool_calls, d.first_call, true);
        called = called || !d.tool_calls.empty();
        return delta;
      };
      if (st->c.chat && !send(chunk(json::array({{{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                                  {"finish_reason", nullptr}}}))))
        return cancel_all(*st);
      // Logprobs of the tokens since the last chunk ride on the next chunk (text a chat parser
      // holds back is sent later, with its tokens' entries).
      json pending_logprobs = json::array();
      Event e;
      while (s.next(e)) {
        if (st->c.opt.logprobs) pending_logprobs.push_back(logprob_entry(e.token, e.logprob, e.top));
        json delta;
        if (st->c.chat) {
          delta = chat_delta(st->deltas[i].add(e.text, false));
          if (delta.empty()) continue;
        } else if (e.text.empty()) {
          continue;
        }
        json choice = {{"index", i}, {"finish_reason", nullptr}};
        if (st->c.chat) choice["delta"] = delta;
        else choice["text"] = e.text;
        if (st->c.opt.logprobs) {
          choice["logprobs"] = {{"content", std::move(pending_logprobs)}};
          pending_logprobs = json::array();
        }
        if (!send(chunk(json::array({choice})))) return cancel_all(*st);
      }
      const runtime::GenerationResult* r = nullptr;
      try {
        r = &s.result();
      } catch (const std::exception& ex) {  // the request failed: say so, stop the others
        send(error_body(ex.what(), "server_error"));
        for (auto& other : st->streams) other->cancel();
        sink.done();
        return true;
      }
      completion_tokens += std::int64_t(r->tokens.size());
      json last = {{"index", i}, {"finish_reason", finish_reason(r->stop)}};
      if (st->c.opt.logprobs) last["logprobs"] = {{"content", std::move(pending_logprobs)}};
      if (st->c.chat) {
        last["delta"] = chat_delta(st->deltas[i].add("", true));
        last["finish_reason"] = chat_finish_reason(r->stop, called);
      } else {
        last["text"] = "";
      }
      if (!send(chunk(json::array({last})))) return cancel_all(*st);
    }
    if (st->c.include_usage) {
      json u = chunk(json::array());
      std::int64_t prompt_tokens = 0;
      for (const auto& s : st->streams) prompt_tokens += s->result().prompt_tokens;
      u["usage"] = usage(prompt_tokens, completion_tokens);
      if (!send(u)) return cancel_all(*st);
    }
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  }

  /// POST /v1/messages: one reply, whole or as Anthropic's event stream.
  void messages(Res& res, Completion c) {
    auto stream = sched_.submit(c.prompt, c.opt, c.images);
    const std::string id = "msg_" + std::to_string(++next_id_);
    if (!c.stream) {
      Event e;
      while (stream->next(e)) {
      }
      res.set_content(anthropic::message(id, model_.id, c, stream->result()).dump(), "application/json");
      return;
    }
    struct State {
      Completion c;
      std::shared_ptr<Stream> stream;
      ChatDeltas deltas;
      anthropic::EventWriter writer;
    };
    const auto input_tokens = std::int64_t(c.prompt.size());
    auto deltas = ChatDeltas(c.format, c.tool_calls);
    auto st = std::make_shared<State>(State{std::move(c), std::move(stream), std::move(deltas),
                                            anthropic::EventWriter(id, model_.id, input_tokens)});
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [st](std::size_t, httplib::DataSink& sink) {
          auto send = [&](const std::string& text) { return text.empty() || sink.write(text.data(), text.size()); };
          try {  // nothing may escape into httplib (it would end the process)
            // message_start after the first token: the request is admitted then, and its prompt
            // counted as the model reads it (images laid out).
            Event e;
            bool more = st->stream->next(e);
            st->writer.set_input_tokens(st->stream->prompt_tokens(st->c.prompt.size()));
            if (!send(st->writer.start())) return cancel_one(*st->stream);
            for (; more; more = st->stream->next(e))
              if (!send(st->writer.delta(st->deltas.add(e.text, false)))) return cancel_one(*st->stream);
            const auto& r = st->stream->result();  // rethrows the request's error
            if (!send(st->writer.delta(st->deltas.add("", true))) || !send(st->writer.finish(r)))
              return cancel_one(*st->stream);
          } catch (const std::exception& ex) {
            send(anthropic::EventWriter::event("error", anthropic::error_body(ex.what(), "api_error")));
          }
          sink.done();
          return true;
        },
        [st](bool success) {
          if (!success) st->stream->cancel();
        });
  }

  static bool cancel_one(Stream& s) {
    s.cancel();
    return false;
  }

  template <class S>
  static bool cancel_all(S& st) {
    for (auto& s : st.streams) s->cancel();
    return false;  // httplib closes the connection
  }

  std::string metrics() const {
    const SchedulerStats s = sched_.stats();
    std::string out;
    auto line = [&](const char* name, const char* type, const char* help, double v) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
             std::to_string(v) + "\n";
    };
    line("templlm_requests_total", "counter", "Requests submitted.", double(s.requests));
    line("templlm_requests_finished_total", "counter", "Requests that ended normally.", double(s.finished));
    line("templlm_requests_cancelled_total", "counter", "Requests cancelled (client gone).", double(s.cancelled));
    line("templlm_requests_failed_total", "counter", "Requests that ended with an error.", double(s.failed));
    line("templlm_prompt_tokens_total", "counter", "Prompt tokens submitted.", double(s.prompt_tokens));
    line("templlm_generated_tokens_total", "counter", "Tokens generated.", double(s.generated_tokens));
    line("templlm_steps_total", "counter", "Batched forward steps.", double(s.steps));
    line("templlm_queue_depth", "gauge", "Requests waiting for a batch slot.", double(s.queued));
    line("templlm_running_requests", "gauge", "Requests in the batch.", double(s.running));
    line("templlm_batch_size", "gauge", "Requests in the last step.", double(s.last_batch));
    line("templlm_kv_pages_in_use", "gauge", "KV cache pages held by sequences.", double(s.kv.pages_in_use));
    line("templlm_kv_pages_allocated", "gauge", "KV cache pages allocated.", double(s.kv.pages_allocated));
    line("templlm_kv_bytes_allocated", "gauge", "KV cache bytes allocated.", double(s.kv.bytes_allocated));
    line("templlm_prefix_cache_lookups_total", "counter", "Requests looked up in the prefix cache.", double(s.prefix.lookups));
    line("templlm_prefix_cache_hits_total", "counter", "Requests that started from a cached prefix.", double(s.prefix.hits));
    line("templlm_prefix_cache_tokens_reused_total", "counter", "Prompt tokens not prefilled again.",
         double(s.prefix.tokens_reused));
    line("templlm_prefix_cache_hit_rate", "gauge", "Prefix-cache hits per lookup.",
         s.prefix.lookups ? double(s.prefix.hits) / double(s.prefix.lookups) : 0.0);
    line("templlm_prefix_cache_entries", "gauge", "Sequences kept for later prompts.", double(s.prefix.entries));
    out += s.time_to_first_token.exposition("templlm_time_to_first_token_seconds",
                                            "From a request's submission to its first token.");
    out += s.inter_token_latency.exposition("templlm_inter_token_latency_seconds",
                                            "Between two tokens of one request.");
    return out;
  }

  Scheduler& sched_;
  ServedModel model_;
  ServerOptions o_;
  httplib::Server server_;
  std::atomic<std::uint64_t> next_id_{0};
  std::int64_t started_ = now_seconds();
};

}  // namespace templlm::serve
