// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/serve_cmd.cpp
/// `templlm serve`: an OpenAI- and Anthropic-compatible HTTP server (include/templlm/serve/) over one loaded
/// model, continuously batched by a Scheduler thread. docs/serving.md has the routes.
#include <csignal>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "commands.hpp"
#include "generate_support.hpp"
#include "numbers.hpp"

#ifdef TEMPLLM_CLI_SERVE
#include <templlm/serve/http_server.hpp>
#endif

namespace templlm::cli {

namespace {

constexpr std::string_view serve_help =
    R"(usage: templlm serve [--model DIR] [options]

Serves the model in DIR (default: the embedded demo model) over HTTP: OpenAI's
POST /v1/chat/completions and /v1/completions, Anthropic's POST /v1/messages, GET /v1/models,
GET /health, GET /metrics (docs/serving.md).
  --model DIR          checkpoint with tokenizer.json (default: models/demo)
  --host ADDR          address to listen on (default 127.0.0.1)
  --port N             port (default 8080; 0 = any free port, printed on stderr)
  --backend cpu|cuda   (default cpu)
  --threads N          CPU threads (0 = all cores)
  --max-batch N        requests stepped together (default 16)
  --max-queue N        requests waiting before 503 (default 256)
  --prefix-cache N     finished requests' KV caches kept for later prompts that share a
                       prefix (default 16; 0 = off)
  --max-tokens N       a request's max_tokens when it sends none (default 256)
  --max-context N      the longest prompt + reply a request may have (default: the model's)
  --api-key KEY        require "Authorization: Bearer KEY" (default: no key)
  --help               this text
)";

#ifdef TEMPLLM_CLI_SERVE
serve::HttpServer* running_server = nullptr;
extern "C" void stop_on_signal(int) {
  if (running_server) running_server->stop();
}
#endif

}  // namespace

int serve_main(int argc, char** argv) {
  Args args(argc, argv, {"help"},
            {"model", "host", "port", "backend", "threads", "max-batch", "max-queue", "max-tokens", "max-context",
             "api-key", "prefix-cache"});
  if (args.has("help")) {
    std::cout << serve_help;
    return 0;
  }
  const std::filesystem::path dir = args.get("model") ? std::filesystem::path(*args.get("model")) : default_model_dir();
  const std::string backend = args.get("backend").value_or("cpu");
  if (backend != "cpu" && backend != "cuda") throw UsageError("--backend: expected cpu or cuda, got '" + backend + "'");
  const int port = int_flag<int>(args, "port", 8080, 0, 65535, "0 to 65535");
  const unsigned threads = int_flag<unsigned>(args, "threads", 0, 0, 1024, "0 to 1024; 0 = all cores");
  const auto max_batch = int_flag<int>(args, "max-batch", 16, 1, 4096, "1 to 4096");
  const auto max_queue = int_flag<int>(args, "max-queue", 256, 0, 1 << 20, "0 to 1048576");
  const auto prefix_cache = int_flag<int>(args, "prefix-cache", 16, 0, 1 << 16, "0 to 65536; 0 = off");
  const auto max_tokens = int_flag<int>(args, "max-tokens", 256, 1, std::numeric_limits<int>::max(), "1 to 2147483647");
  const std::int64_t limit = model_context_limit(dir);
  const auto max_context = int_flag<std::int64_t>(args, "max-context", 0, 0, std::int64_t(1) << 40, "0 to 2^40; 0 = the model's");
  if (limit > 0 && max_context > limit)
    throw UsageError("--max-context: " + std::to_string(max_context) + " exceeds the model's context of " +
                     std::to_string(limit) + " tokens (max_position_embeddings in " + (dir / "config.json").string() + ")");
#ifndef TEMPLLM_CLI_SERVE
  (void)port, (void)threads, (void)max_batch, (void)max_queue, (void)max_tokens, (void)prefix_cache;
  throw Unsupported("templlm: serve: this templlm was built without cpp-httplib (apt-get install libcpp-httplib-dev, "
                    "then reconfigure)");
#else
  if (!std::filesystem::exists(dir / "tokenizer.json"))
    throw InvalidInput("templlm: serve: " + dir.string() + " has no tokenizer.json (the server works on text)");
  std::optional<cpu::Backend> cpu_be;  // before the model, which uses it
  std::unique_ptr<runtime::AnyModel> model;
  if (backend == "cuda") {
    model = load_any_model_cuda(dir, true);
  } else {
    cpu_be.emplace(threads);
    model = load_any_model(*cpu_be, dir, true);
  }
  if (max_context > 0) model->set_context_limit(max_context);
  const auto tok = tokenizer::Tokenizer::from_folder(dir);
  std::string why;
  auto chat = model_chat_format(dir, "", {}, why);
  if (!chat) {
    std::cerr << "templlm serve: note: " << why << "; /v1/chat/completions will refuse requests\n";
    chat = tokenizer::chat::AnyChat{[why](const std::vector<tokenizer::chat::Message>&, bool) -> std::string {
                                      throw InvalidInput("templlm: " + why + "; use /v1/completions");
                                    },
                                    [](std::string_view s, tokenizer::chat::ParseOptions) {
                                      tokenizer::chat::ParsedReply r;
                                      r.content = std::string(s);
                                      return r;
                                    },
                                    {}};
  }
  serve::Scheduler sched(*model, &tok,
                         {.max_batch = std::size_t(max_batch),
                          .max_queue = std::size_t(max_queue),
                          .prefix_cache = std::size_t(prefix_cache)});
  serve::ServerOptions so;
  so.host = args.get("host").value_or("127.0.0.1");
  so.port = port;
  so.api_key = args.get("api-key").value_or("");
  so.default_max_tokens = max_tokens;
  // A request's own switches (reasoning_effort, enable_thinking, Anthropic's thinking): the same
  // format configured with them, made once per distinct choice.
  serve::ChatFormats formats{*chat, {}};
  if (why.empty()) {
    auto cache = std::make_shared<std::pair<std::mutex, std::map<std::pair<bool, std::string>, tokenizer::chat::AnyChat>>>();
    formats.with = [dir, cache](const tokenizer::chat::ChatOptions& o) {
      std::lock_guard lock(cache->first);
      const auto key = std::make_pair(o.thinking, o.reasoning);
      if (const auto it = cache->second.find(key); it != cache->second.end()) return it->second;
      std::string no;
      auto f = model_chat_format(dir, "", o, no);
      if (!f) throw InvalidInput("templlm: " + no);
      return cache->second.emplace(key, *f).first->second;
    };
  }
  serve::HttpServer server(sched, {std::string(model->name()), &tok, formats, model->vocab(), model->image_placeholder()},
                           so);
  const int bound = port == 0 ? server.bind_any_port() : (server.bind_to(so.host, port) ? port : -1);
  if (bound < 0) {
    std::cerr << "templlm serve: cannot listen on " << so.host << ":" << port << "\n";
    return 1;
  }
  running_server = &server;
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  std::cerr << "templlm serve: " << model->name() << " on http://" << so.host << ":" << bound << " (" << backend
            << ", max batch " << max_batch << ")" << std::endl;
  server.listen_after_bind();
  running_server = nullptr;
  std::cerr << "templlm serve: stopped\n";
  return 0;
#endif
}

}  // namespace templlm::cli
