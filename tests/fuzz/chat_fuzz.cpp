// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the chat formats (tokenizer/chat/). Every format parses arbitrary generated text
// (harmony channels, <think> blocks, stop markers), and renders the input read as messages
// (role NUL content NUL ...): a refused conversation is a typed error, never a fault.
#include <vector>

#include <templlm/tokenizer/chat/all.hpp>

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
  const auto reply = f.parse(text);
  templlm::fuzz::require(reply.content.size() + reply.reasoning.size() <= 2 * text.size() + 64,
                         "a parsed reply is made of the generated text");
  for (bool prompt : {false, true})
    templlm::fuzz::refused_or_ok([&] { (void)f.render(msgs, prompt); });
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
