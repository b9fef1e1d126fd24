// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/chat_cmd.cpp
/// `templlm chat --render`: a JSON array of {role, content} on stdin -> the prompt the family's
/// chat template renders. The family name is resolved here, in the app, so the library keeps one
/// typed struct per family and no name switch. Interactive chat (`--model DIR`) comes later.
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "templlm/tokenizer/chat/all.hpp"

namespace templlm::cli {

namespace {

constexpr std::string_view chat_help =
    R"(usage: templlm chat --family NAME --render [options]   < messages.json

Reads a JSON array of {"role": ..., "content": ...} on stdin and prints the rendered prompt.
  --family NAME            harmony (= gptoss), qwen3, deepseek_r1, deepseek_v3, llama3, llama4,
                           mistral_v1 (= mistral), mistral_v3
  --render                 render the prompt (the only mode so far; --model DIR will chat)
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
};

template <class Format>
int print(const Format& f, const std::vector<tokenizer::chat::Message>& msgs, const Options& o) {
  std::cout << f.render(msgs, o.generation_prompt);
  return 0;
}

int render(const Options& o, const std::vector<tokenizer::chat::Message>& msgs) {
  namespace chat = tokenizer::chat;
  const std::string& f = o.family;
  if (f == "harmony" || f == "gptoss" || f == "gpt_oss") {
    chat::HarmonyChat h;
    if (o.reasoning == "low")
      h.reasoning = chat::HarmonyChat::Reasoning::low;
    else if (o.reasoning == "high")
      h.reasoning = chat::HarmonyChat::Reasoning::high;
    else if (o.reasoning != "medium") {
      std::cerr << "templlm chat: --reasoning must be low, medium or high\n";
      return 2;
    }
    h.date = o.date;
    return print(h, msgs, o);
  }
  if (f == "qwen3" || f == "qwen3_moe") return print(chat::Qwen3Chat{o.thinking}, msgs, o);
  if (f == "deepseek_r1") return print(chat::DeepSeekChat{true}, msgs, o);
  if (f == "deepseek_v3") return print(chat::DeepSeekChat{false}, msgs, o);
  if (f == "llama3") return print(chat::Llama3Chat{}, msgs, o);
  if (f == "llama4") return print(chat::Llama4Chat{}, msgs, o);
  if (f == "mistral" || f == "mistral_v1" || f == "mixtral")
    return print(chat::MistralChat{1}, msgs, o);
  if (f == "mistral_v3") return print(chat::MistralChat{3}, msgs, o);
  std::cerr << "templlm chat: unknown family '" << f << "'\n" << chat_help;
  return 2;
}

}  // namespace

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
    } else {
      std::cerr << "templlm chat: bad argument '" << a << "'\n" << chat_help;
      return 2;
    }
  }
  if (!o.render) {
    std::cerr << "templlm chat: only --render is implemented so far\n" << chat_help;
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
