// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/chat_cmd.cpp
/// `templlm chat --render --family NAME`: a JSON array of {role, content} on stdin -> the prompt
/// that format renders (NAME is the user's choice of a format). `templlm chat --model DIR`: an
/// interactive chat in the format the model's description names (M::chat_format()).
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "templlm/tokenizer/chat/all.hpp"
#include "templlm/tokenizer/chat/any.hpp"
#include "templlm/runtime/generator.hpp"
#include "generate_support.hpp"
#include "numbers.hpp"
#include "templlm/io/hf_config.hpp"
#include "templlm/io/image.hpp"
#include "templlm/model/all.hpp"
#include "templlm/runtime/registry.hpp"
#include <limits>
#include <fstream>
#include <functional>
#include <unistd.h>

namespace templlm::cli {

namespace {

constexpr std::string_view chat_help =
    R"(usage: templlm chat --family NAME --render [options]   < messages.json

Reads a JSON array of {"role": ..., "content": ...} on stdin and prints the rendered prompt.
  --family NAME            harmony (= gptoss), qwen3, deepseek_r1, deepseek_v3, llama3, llama4,
                           mistral_v1 (= mistral), mistral_v3
  --render                 render the prompt

       templlm chat --model DIR [options]       (interactive; /reset clears, /quit or EOF ends,
                                                 /image F attaches an image to your next message)

Chats with the model in DIR in the chat format its description names (or --family), streaming the answer; reasoning (a <think> block) is shown dimmed, apart from the
answer, and left out of the history.
  --model DIR              checkpoint with tokenizer.json
  --max-tokens N           per answer (default 512)
  --temperature T          (default 0.7; 0 = greedy)   --top-p P (default 0.9)   --seed S
  --system TEXT            a system message
  --image F                a PNG or JPEG for the first message (repeatable; models that see
                           images: Llama 4)
  --threads N              CPU threads
  --no-generation-prompt   do not open an assistant turn at the end
  --reasoning LEVEL        harmony: low, medium (default) or high
  --date YYYY-MM-DD        harmony: the "Current date" line (omitted by default)
  --no-thinking            qwen3: enable_thinking = false (adds the empty think block)
  --help                   this text
)";

struct Options {
  std::string family;
  bool render = false, generation_prompt = true, thinking = true;
  std::string reasoning = "medium", date, model;
  std::string system, max_tokens = "512", temperature = "0.7", top_p = "0.9", seed = "0", threads = "0";
  std::vector<std::string> images;
};

using tokenizer::chat::AnyChat;
using tokenizer::chat::erase;

tokenizer::chat::ChatOptions chat_options(const Options& o) {
  return {.thinking = o.thinking, .reasoning = o.reasoning, .date = o.date, .checkpoint_template = {}};
}

/// The formats --family names: a user's choice of a format by its name (the model's own format
/// comes from its description). Calls f(format) with the configured format; false if unknown.
template <class F>
bool with_named_format(std::string_view family, const tokenizer::chat::ChatOptions& c, F&& f) {
  namespace chat = tokenizer::chat;
  if (family == "harmony" || family == "gptoss" || family == "gpt_oss") f(chat::configured(chat::HarmonyChat{}, c));
  else if (family == "qwen3" || family == "qwen3_moe") f(chat::configured(chat::Qwen3Chat{}, c));
  else if (family == "deepseek_r1") f(chat::DeepSeekChat{true});
  else if (family == "deepseek_v3") f(chat::DeepSeekChat{false});
  else if (family == "llama3") f(chat::Llama3Chat{});
  else if (family == "llama4") f(chat::Llama4Chat{});
  else if (family == "mistral" || family == "mistral_v1" || family == "mixtral") f(chat::MistralChat{1});
  else if (family == "mistral_v3") f(chat::MistralChat{3});
  else return false;
  return true;
}

/// tokenizer_config.json's "chat_template" (a string, or the entry named "default" of a list),
/// empty when the checkpoint has none.
std::string checkpoint_template(const std::filesystem::path& dir) {
  const auto path = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return {};
  const auto cfg = io::HfConfig::load(path);
  const auto* t = cfg.lookup("chat_template");
  if (t == nullptr) return {};
  if (t->is_string()) return t->get<std::string>();
  if (t->is_array())
    for (const auto& e : *t)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
        return e["template"].get<std::string>();
  return {};
}

std::optional<AnyChat> chat_format(const Options& o, const std::filesystem::path& dir, std::string& why) {
  return model_chat_format(dir, o.family, chat_options(o), why);
}

int interactive(const Options& o) {
  const std::filesystem::path dir = o.model;
  // Checked before anything loads, each against its whole range (no narrowing after stoll).
  constexpr double inf = std::numeric_limits<double>::infinity();
  const unsigned threads = parse_int<unsigned>("threads", o.threads, 0, 1024, "0 to 1024; 0 = all cores");
  runtime::GenerateOptions g;
  g.max_tokens = parse_int<int>("max-tokens", o.max_tokens, 1, std::numeric_limits<int>::max(),
                                "1 to 2147483647");
  g.sampling.temperature = parse_float("temperature", o.temperature, 0, inf, "a number >= 0; 0 = greedy");
  g.sampling.top_p = parse_float("top-p", o.top_p, 0, 1, "a number in (0, 1]; 1 = off", true);
  g.sampling.seed = parse_int<std::uint64_t>("seed", o.seed, 0, std::numeric_limits<std::uint64_t>::max(),
                                             "0 to 18446744073709551615");
  g.context_limit = model_context_limit(dir);
  // HfConfig names the file in every error and refuses a FIFO instead of waiting on it.
  std::string why;
  auto fmt = chat_format(o, dir, why);
  if (!fmt) {
    std::cerr << "templlm chat: " << why << "\n";
    return 2;
  }
  if (!std::filesystem::exists(dir / "tokenizer.json")) {
    std::cerr << "templlm chat: " << dir.string() << " has no tokenizer.json\n";
    return 1;
  }
  cpu::Backend be(threads);
  auto model = load_any_model(be, dir, true);
  const auto tok = tokenizer::Tokenizer::from_folder(dir);
  const bool tty = isatty(1) != 0;
  std::vector<tokenizer::chat::Message> history;
  if (!o.system.empty()) history.push_back({"system", o.system});
  // Images: the format writes <|image|> where each goes; the model lays them out (image_prompt).
  std::vector<io::Image> images, pending;
  const auto attach = [&](const std::string& file) {
    if (!model->sees_images()) (void)model->image_prompt({}, {}, tok);  // throws the model's sentence
    pending.push_back(io::load_image(file));
  };
  for (const auto& f : o.images) attach(f);
  std::string line;
  for (int turn = 0;; ++turn) {
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line) || line == "/quit") break;
    if (line == "/reset") {
      history.resize(o.system.empty() ? 0 : 1);
      images.clear();
      pending.clear();
      continue;
    }
    if (line.rfind("/image ", 0) == 0) {
      try {
        attach(line.substr(7));
        std::cerr << "[image " << line.substr(7) << " attached to your next message]\n";
      } catch (const Error& e) {
        std::cerr << "templlm chat: " << e.what() << "\n";
      }
      continue;
    }
    if (line.empty()) continue;
    std::string content;
    for (std::size_t i = 0; i < pending.size(); ++i) content += "<|image|>";
    history.push_back({"user", content + line});
    const auto enc = tok.encode(fmt->render(history, true));
    std::optional<vision::ImagePrompt> with_images;
    try {
      std::vector<io::Image> all = images;
      all.insert(all.end(), pending.begin(), pending.end());
      if (!all.empty()) with_images = model->image_prompt(std::vector<int>(enc.begin(), enc.end()), all, tok);
    } catch (const InvalidInput& e) {  // e.g. "<|image|>" typed into the message
      std::cerr << "templlm chat: " << e.what() << "\n";
      history.pop_back();
      continue;
    }
    images.insert(images.end(), pending.begin(), pending.end());
    pending.clear();
    // Reasoning (<think>...</think>) is dimmed on a terminal and marked otherwise.
    std::string seen;
    bool in_think = false;
    auto show = [&](std::string_view piece) {
      for (char c : piece) {
        seen += c;
        std::cout << c;
        if (!in_think && seen.ends_with("<think>")) {
          in_think = true;
          std::cout << (tty ? "\033[2m" : "");
        } else if (in_think && seen.ends_with("</think>")) {
          in_think = false;
          std::cout << (tty ? "\033[0m" : "");
        }
      }
      std::cout << std::flush;
      return true;
    };
    g.sampling.seed += std::uint64_t(turn);
    const auto on_piece = [&](int, std::string_view p) { return show(p); };
    const auto r = with_images ? runtime::generate_with_images(*model, std::move(*with_images), g, on_piece, &tok)
                               : runtime::generate(*model, {enc.begin(), enc.end()}, g, on_piece, &tok);
    std::cout << (tty && in_think ? "\033[0m" : "") << "\n";
    history.push_back({"assistant", fmt->parse(r.text, {.ended = true}).content});
    if (r.stop == runtime::StopReason::max_tokens)
      std::cerr << "[stopped after " << r.tokens.size() << " tokens]\n";
  }
  return 0;
}

template <class Format>
int print(const Format& f, const std::vector<tokenizer::chat::Message>& msgs, const Options& o) {
  std::cout << f.render(msgs, o.generation_prompt);
  return 0;
}

int render(const Options& o, const std::vector<tokenizer::chat::Message>& msgs) {
  try {
    if (with_named_format(o.family, chat_options(o), [&](const auto& f) { print(f, msgs, o); })) return 0;
  } catch (const InvalidInput& e) {  // e.g. --reasoning neither low, medium nor high
    std::cerr << "templlm chat: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "templlm chat: unknown family '" << o.family << "'\n" << chat_help;
  return 2;
}

}  // namespace

/// The chat format of the model in dir: `family` if given, else what the matching description
/// names (`M::chat_format()`), refined by the checkpoint's own template where the format reads it.
/// No architecture switch: the description says, and one without a format is an error.
std::optional<tokenizer::chat::AnyChat> model_chat_format(const std::filesystem::path& dir, const std::string& family,
                                                          tokenizer::chat::ChatOptions c, std::string& why) {
  std::optional<AnyChat> out;
  if (!family.empty()) {
    if (!with_named_format(family, c, [&](auto f) { out = erase(f); })) why = "unknown --family '" + family + "'";
    return out;
  }
  const auto config = io::HfConfig::load(dir / "config.json");
  c.checkpoint_template = checkpoint_template(dir);
  runtime::with_matching_description(model::LoadableModels{}, config, dir.string(), [&]<class M>() {
    if constexpr (requires { M::chat_format(); })
      out = erase(tokenizer::chat::configured(M::chat_format(), c));
    else
      why = "the description '" + std::string(M::name) + "' names no chat format (M::chat_format()); pass --family NAME";
  });
  return out;
}

int chat_main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (a == "--help" || a == "-h") {
      std::cout << chat_help;
      return 0;
    } else if (a == "--render") {
      o.render = true;
    } else if (a == "--no-generation-prompt") {
      o.generation_prompt = false;
    } else if (a == "--no-thinking") {
      o.thinking = false;
    } else if (a == "--family" && (v = value())) {
      o.family = *v;
    } else if (a == "--reasoning" && (v = value())) {
      o.reasoning = *v;
    } else if (a == "--date" && (v = value())) {
      o.date = *v;
    } else if (a == "--model" && (v = value())) {
      o.model = *v;
    } else if (a == "--image" && (v = value())) {
      o.images.push_back(*v);
    } else if (a == "--system" && (v = value())) {
      o.system = *v;
    } else if (a == "--max-tokens" && (v = value())) {
      o.max_tokens = *v;
    } else if (a == "--temperature" && (v = value())) {
      o.temperature = *v;
    } else if (a == "--top-p" && (v = value())) {
      o.top_p = *v;
    } else if (a == "--seed" && (v = value())) {
      o.seed = *v;
    } else if (a == "--threads" && (v = value())) {
      o.threads = *v;
    } else {
      std::cerr << "templlm chat: bad argument '" << a << "'\n" << chat_help;
      return 2;
    }
  }
  if (!o.render && !o.model.empty()) return interactive(o);
  if (!o.render) {
    std::cerr << "templlm chat: give --render or --model DIR\n" << chat_help;
    return 2;
  }
  if (o.family.empty()) {
    std::cerr << "templlm chat: --family NAME is required\n" << chat_help;
    return 2;
  }
  std::vector<tokenizer::chat::Message> msgs;
  try {
    const std::string input(std::istreambuf_iterator<char>(std::cin), {});
    const auto j = nlohmann::json::parse(input);
    const auto& list = j.is_object() ? j.at("messages") : j;  // also accept {"messages": [...]}
    if (!list.is_array()) throw nlohmann::json::type_error::create(302, "not an array", &list);
    for (const auto& m : list)
      msgs.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "templlm chat: stdin is not a JSON array of {role, content}: " << e.what() << "\n";
    return 1;
  }
  return render(o, msgs);
}

}  // namespace templlm::cli
