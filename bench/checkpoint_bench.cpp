// SPDX-License-Identifier: Apache-2.0
// Prefill and decode tokens/s of a checkpoint directory on the CPU backend, measured the way
// llama.cpp's llama-bench measures pp and tg, so bench/cpu_vs_llamacpp.sh can put the two side by
// side: a prompt of P tokens into an empty context (prefill), and N single-token steps from an
// empty context (decode), each the best of R runs after one warm-up run.
//   checkpoint_bench --model DIR [--threads 1,2] [--prompt 128] [--decode 64] [--repeat 3]
// One JSON object per thread count on stdout. Compiled-in shapes: Qwen3-0.6B and the
// Qwen3-MoE shape of bench/make_random_checkpoints.py.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/kernels/cpu/isa.hpp>
#include <templlm/model/qwen3.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/registry.hpp>

#include "bench_support.hpp"

namespace {
using namespace templlm;
using bench::parse_threads;
using bench::seconds_since;

using Shapes = TypeList<model::Qwen3_0_6B, bench::Qwen3Moe1B64>;
}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::vector<unsigned> threads{1};
  int prompt = 128, decode = 64, repeat = 3;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--model" && i + 1 < argc) dir = argv[++i];
      else if (a == "--threads" && i + 1 < argc) threads = parse_threads(argv[++i]);
      else if (a == "--prompt" && i + 1 < argc) prompt = std::stoi(argv[++i]);
      else if (a == "--decode" && i + 1 < argc) decode = std::stoi(argv[++i]);
      else if (a == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
      else throw std::invalid_argument(a);
    }
    if (dir.empty()) throw std::invalid_argument("--model is required");
    if (prompt < 1 || decode < 1 || repeat < 1) throw std::invalid_argument("counts must be >= 1");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_bench: bad argument (%s)\nusage: checkpoint_bench --model DIR "
                         "[--threads 1,2] [--prompt 128] [--decode 64] [--repeat 3]\n", e.what());
    return 2;
  }
  try {
    for (const unsigned n : threads) {
      cpu::Backend be(n);
      auto m = runtime::load_model(Shapes{}, be, dir);
      std::vector<float> logits(static_cast<std::size_t>(m->vocab()));
      std::vector<int> ids(static_cast<std::size_t>(prompt));
      for (int i = 0; i < prompt; ++i) ids[std::size_t(i)] = (i * 7919 + 13) % int(m->vocab());
      auto step = [&](runtime::Sequence& s, std::span<const int> t) {
        const runtime::Step st{&s, t};
        m->step(std::span<const runtime::Step>(&st, 1), logits);
      };
      double prefill = 0, gen = 0;
      for (int r = 0; r <= repeat; ++r) {  // run 0 warms up (page cache, allocations)
        auto seq = m->new_sequence(std::max(prompt, decode) + 1);
        auto t = std::chrono::steady_clock::now();
        step(*seq, ids);
        const double p = prompt / seconds_since(t);
        auto fresh = m->new_sequence(decode + 1);
        int tok = ids[0];
        t = std::chrono::steady_clock::now();
        for (int i = 0; i < decode; ++i) {
          step(*fresh, std::span<const int>(&tok, 1));
          tok = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
        }
        const double g = decode / seconds_since(t);
        if (r > 0) {
          prefill = std::max(prefill, p);
          gen = std::max(gen, g);
        }
      }
      std::printf("{\"engine\": \"templlm\", \"model\": \"%s\", \"threads\": %u, \"isa\": \"%s\", "
                  "\"prefill_tokens\": %d, \"prefill_tok_s\": %.2f, \"decode_tokens\": %d, \"decode_tok_s\": %.2f}\n",
                  dir.c_str(), be.threads(), cpu::isa_description().c_str(), prompt, prefill, decode, gen);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
