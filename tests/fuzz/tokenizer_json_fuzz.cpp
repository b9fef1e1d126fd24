// SPDX-License-Identifier: Apache-2.0
// Fuzz target: tokenizer.json loading from memory (tokenizer/tokenizer.hpp from_json_text). A
// tokenizer that loads must also encode and decode a fixed text without fault, its ids inside
// its vocabulary.
#include <templlm/tokenizer/tokenizer.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm;
  fuzz::refused_or_ok([&] {
    const auto tok = tokenizer::Tokenizer::from_json_text(fuzz::text(data, size), "fuzz/tokenizer.json");
    const auto ids = tok.encode("Hello, wörld!\n  <|im_start|> 12345 ¿qué?", true);
    for (std::uint32_t id : ids) fuzz::require(id < tok.vocab_size(), "encoded ids lie in the vocabulary");
    (void)tok.decode(ids, false);
    (void)tok.decode(ids, true);
  });
  return 0;
}
