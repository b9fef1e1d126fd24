// SPDX-License-Identifier: Apache-2.0
/// \file bench/tokenizer_bench.cpp
/// Encode throughput of templlm's tokenizer on one thread, to compare with
/// bench/tokenizer_bench_hf.py on the same text (bench/run_tokenizer_bench.sh runs both).
/// Usage: tokenizer_bench TOKENIZER_JSON TEXT_FILE [REPEATS]
/// The text is cut into chunks of about 4 KiB at line ends, encoded chunk by chunk, exactly as the
/// Python side does. Prints load time, MB/s and tokens/s (best of REPEATS).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "templlm/tokenizer/tokenizer.hpp"

namespace {

std::vector<std::string> chunks_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b < text.size()) {
    std::size_t e = std::min(text.size(), b + 4096);
    if (e < text.size()) {
      const std::size_t nl = text.find('\n', e);
      e = nl == std::string::npos ? text.size() : nl + 1;
    }
    out.push_back(text.substr(b, e - b));
    b = e;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_JSON TEXT_FILE [REPEATS]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto tok = templlm::tokenizer::Tokenizer::from_file(argv[1]);
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::ifstream f(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const auto chunks = chunks_of(text);
  double best = 1e30;
  std::size_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto tokenizer_copy_free_start = clock::now();
    std::size_t n = 0;
    for (const auto& c : chunks) n += tok.encode(c).size();
    best = std::min(
        best, std::chrono::duration<double>(clock::now() - tokenizer_copy_free_start).count());
    tokens = n;
  }
  std::printf("templlm load_s=%.3f bytes=%zu tokens=%zu encode_s=%.3f MB/s=%.2f tokens/s=%.0f\n",
              load_s, text.size(), tokens, best, text.size() / best / 1e6, tokens / best);
  return 0;
}
