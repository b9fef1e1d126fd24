// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the chat formats (tokenizer/chat/). Every format parses arbitrary generated text
// (harmony channels, <think> blocks, stop markers, tool-call blocks with tools declared, while
// the reply goes on and once it ended), and renders the input read as messages (role NUL content
// NUL ...), also with a tool and with the text as a call's arguments: a refused conversation is
// a typed error, never a fault.
#include <vector>

#include <templlm/tokenizer/chat/all.hpp>
#include <templlm/tokenizer/chat/tools.hpp>

#include "fuzz_support.hpp"

namespace {

std::vector<templlm::tokenizer::chat::Message> as_messages(std::string_view s) {
  std::vector<templlm::tokenizer::chat::Message> out;
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t nul = s.find('\0');
    parts.push_back(s.substr(0, nul));
    if (nul == std::string_view::npos) break;
    s.remove_prefix(nul + 1);
  }
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2)
    out.push_back({std::string(parts[i]), std::string(parts[i + 1])});
  return out;
}

template <class Format>
void exercise(const Format& f, std::string_view text, const std::vector<templlm::tokenizer::chat::Message>& msgs) {
  using namespace templlm::tokenizer::chat;
  const auto reply = f.parse(text);
  templlm::fuzz::require(reply.content.size() + reply.reasoning.size() <= 2 * text.size() + 64,
                         "a parsed reply is made of the generated text");
  for (bool prompt : {false, true})
    templlm::fuzz::refused_or_ok([&] { (void)f.render(msgs, prompt); });
  if constexpr (requires { f.parse(text, ParseOptions{}); }) {
    for (bool ended : {false, true}) {
      const auto calls = f.parse(text, {.ended = ended, .tool_calls = true});
      templlm::fuzz::require(calls.content.size() + calls.reasoning.size() <= 2 * text.size() + 64,
                             "a parsed reply with calls is made of the generated text");
    }
  }
  if constexpr (requires(std::span<const Message> m, std::span<const Tool> t) { f.render(m, t, true); }) {
    const std::vector<Tool> tools{{"f", nlohmann::ordered_json::parse(
                                           R"({"type": "function", "function": {"name": "f", "parameters": {}}})")}};
    std::vector<Message> with_call = msgs;
    with_call.push_back({"assistant", "", {{"abcdefghi", "f", std::string(text), true}}});
    templlm::fuzz::refused_or_ok([&] { (void)f.render(msgs, tools, true); });
    templlm::fuzz::refused_or_ok([&] { (void)f.render(with_call, tools, true); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm::tokenizer::chat;
  const std::string_view text = templlm::fuzz::text(data, size);
  const auto msgs = as_messages(text);
  exercise(HarmonyChat{}, text, msgs);
  exercise(Qwen3Chat{}, text, msgs);
  exercise(DeepSeekChat{.r1 = true}, text, msgs);
  exercise(DeepSeekChat{.r1 = false}, text, msgs);
  exercise(Llama3Chat{}, text, msgs);
  exercise(Llama4Chat{}, text, msgs);
  exercise(MistralChat{.version = 1}, text, msgs);
  exercise(MistralChat{.version = 3}, text, msgs);
  return 0;
}
