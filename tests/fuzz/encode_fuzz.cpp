// SPDX-License-Identifier: Apache-2.0
// Fuzz target: encode arbitrary bytes with each real tokenizer of tests/data/tokenizers (the
// first input byte picks one, the second the flags), then decode: ids lie in the vocabulary and
// a streamed decode, id by id, equals the whole decode, with and without special tokens.
#include <array>
#include <memory>

#include <templlm/tokenizer/tokenizer.hpp>

#include "fuzz_support.hpp"

namespace {

using templlm::tokenizer::Tokenizer;

const std::array<std::unique_ptr<Tokenizer>, 5>& tokenizers() {
  static const auto all = [] {
    std::array<std::unique_ptr<Tokenizer>, 5> t;
    const char* names[] = {"gptoss", "deepseek_v3", "qwen3", "llama3_1", "mistral"};
    for (std::size_t i = 0; i < t.size(); ++i)
      t[i] = std::make_unique<Tokenizer>(
          Tokenizer::from_folder(templlm::fuzz::data_dir() / "tokenizers" / names[i]));
    return t;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizers();  // load once, before the first input (seconds under the sanitizers)
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm;
  if (size < 2) return 0;
  const Tokenizer& tok = *tokenizers()[data[0] % tokenizers().size()];
  const bool add_special = data[1] & 1;
  const auto ids = tok.encode(fuzz::text(data + 2, size - 2), add_special);  // never throws
  for (std::uint32_t id : ids) fuzz::require(id < tok.vocab_size(), "encoded ids lie in the vocabulary");
  for (bool skip : {false, true}) {
    const std::string whole = tok.decode(ids, skip);
    auto stream = tok.stream_decoder(skip);
    std::string streamed;
    for (std::uint32_t id : ids) streamed += stream.step(id);
    streamed += stream.finish();
    fuzz::require(streamed == whole, "a streamed decode equals the whole decode");
  }
  return 0;
}
