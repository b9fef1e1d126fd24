// SPDX-License-Identifier: Apache-2.0
// A minimal host application: load a Qwen3 checkpoint, stream a chat answer.
//   host_app MODEL_DIR "your question"
#include <iostream>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/all.hpp>
#include <templlm/runtime/generator.hpp>
#include <templlm/runtime/registry.hpp>
#include <templlm/tokenizer/chat/qwen3.hpp>

int main(int argc, char** argv) try {
  using namespace templlm;
  if (argc < 3) {
    std::cerr << "usage: host_app MODEL_DIR QUESTION\n";
    return 2;
  }
  cpu::Backend backend;  // all cores
  auto model = runtime::load_model(concat(model::DenseModels{}, model::DemoModels{}), backend, argv[1]);
  const auto tok = tokenizer::Tokenizer::from_folder(argv[1]);

  const tokenizer::chat::Qwen3Chat chat{/*thinking=*/false};
  const std::vector<tokenizer::chat::Message> messages{{"user", argv[2]}};
  const auto prompt = tok.encode(chat.render(messages, /*add_generation_prompt=*/true));

  runtime::GenerateOptions opt;
  opt.max_tokens = 200;
  opt.sampling = {.temperature = 0.7f, .top_p = 0.9f, .seed = 1};
  opt.stop_strings = {"<|im_end|>"};
  const auto result = runtime::generate(
      *model, {prompt.begin(), prompt.end()}, opt,
      [](int, std::string_view text) {
        std::cout << text << std::flush;  // return false here to stop early
        return true;
      },
      &tok);
  std::cout << "\n[" << result.tokens.size() << " tokens, stop: "
            << runtime::stop_reason_name(result.stop) << "]\n";
} catch (const std::exception& e) {
  std::cerr << "host_app: " << e.what() << "\n";
  return 1;
}
