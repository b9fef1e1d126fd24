// SPDX-License-Identifier: Apache-2.0
// CPU prefill and decode tokens/s through the generation runtime's batched step API:
//   cpu_decode_bench [--demo DIR] [--threads 1,2] [--prompt T] [--decode N] [--repeat R] [--skip-1b]
// (1) the embedded demo model (models/demo, from its mmap'd safetensors);
// (2) a ~1B-parameter random-weight Qwen3-MoE-shaped model (io::RandomWeights, bf16).
// Each thread count is timed in the same process, the 1B weights made once (about a minute),
// and each figure is the best of R runs: on a shared machine the least disturbed run is the
// closest to what the code can do.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <templlm/io/random_weights.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/kernels/cpu/isa.hpp>
#include <templlm/model/all.hpp>
#include <templlm/model/params.hpp>
#include <templlm/runtime/registry.hpp>

#include "bench_support.hpp"

namespace {
using namespace templlm;
using bench::parse_threads;
using bench::seconds_since;

struct Rates {
  double prefill = 0, decode = 0;  // tokens/s
};

/// Times one prompt of `prompt` tokens then `decode` single-token steps, `repeat` times on fresh
/// sequences; the best rate of each phase.
template <class StepFn, class NewSeq>
Rates time_model(std::int64_t vocab, NewSeq new_seq, StepFn step, int prompt, int decode, int repeat) {
  std::vector<int> ids(static_cast<std::size_t>(prompt));
  for (int i = 0; i < prompt; ++i) ids[std::size_t(i)] = (i * 7919 + 13) % int(vocab);
  std::vector<float> logits(static_cast<std::size_t>(vocab));
  Rates best;
  for (int r = 0; r < repeat; ++r) {
    auto seq = new_seq(prompt + decode + 1);
    auto t = std::chrono::steady_clock::now();
    step(*seq, std::span<const int>(ids), logits);
    best.prefill = std::max(best.prefill, prompt / seconds_since(t));
    int tok = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
    t = std::chrono::steady_clock::now();
    for (int i = 0; i < decode; ++i) {
      step(*seq, std::span<const int>(&tok, 1), logits);
      tok = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    best.decode = std::max(best.decode, decode / seconds_since(t));
  }
  return best;
}

void report(const char* name, unsigned threads, int prompt, int decode, Rates r) {
  std::printf("%-22s threads %u | prefill %4d tok: %8.1f tok/s | decode %4d tok: %7.1f tok/s\n", name,
              threads, prompt, r.prefill, decode, r.decode);
}

}  // namespace

int main(int argc, char** argv) {
  std::string demo = TEMPLLM_DEMO_DIR;
  std::vector<unsigned> threads{0};  // 0: the backend's default (all cores)
  int prompt = 128, decode = 64, repeat = 1;
  bool skip_1b = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--demo" && i + 1 < argc) demo = argv[++i];
      else if (a == "--threads" && i + 1 < argc) threads = parse_threads(argv[++i]);
      else if (a == "--prompt" && i + 1 < argc) prompt = std::stoi(argv[++i]);
      else if (a == "--decode" && i + 1 < argc) decode = std::stoi(argv[++i]);
      else if (a == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
      else if (a == "--skip-1b") skip_1b = true;
      else throw std::invalid_argument(a);
    }
    if (prompt < 1 || decode < 1 || repeat < 1) throw std::invalid_argument("counts must be >= 1");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpu_decode_bench: bad argument (%s)\nusage: cpu_decode_bench [--demo DIR] "
                         "[--threads 1,2] [--prompt T] [--decode N] [--repeat R] [--skip-1b]\n", e.what());
    return 2;
  }
  std::printf("CPU kernels compiled for: %s\n", cpu::isa_description().c_str());
  auto by_step = [](runtime::AnyModel& m) {
    return [&m](runtime::Sequence& s, std::span<const int> ids, std::vector<float>& logits) {
      const runtime::Step st{&s, ids};
      m.step(std::span<const runtime::Step>(&st, 1), logits);
    };
  };
  for (unsigned n : threads) {
    cpu::Backend be(n);
    auto m = runtime::load_model(model::DemoModels{}, be, demo);
    report("templlm-demo (bf16)", be.threads(), prompt, decode,
           time_model(m->vocab(), [&](std::int64_t c) { return m->new_sequence(c); }, by_step(*m), prompt,
                      decode, repeat));
  }
  if (skip_1b) return 0;
  const auto t = std::chrono::steady_clock::now();
  const io::RandomWeights w(1, 0.02f);
  for (unsigned n : threads) {
    cpu::Backend be(n);
    // The weights are made by the first Transformer and reused (zero-copy) by the next ones.
    layers::Transformer<bench::Qwen3Moe1B, cpu::Backend> net(be, w);
    if (n == threads.front()) {
      const auto pc = model::param_count<bench::Qwen3Moe1B>();
      std::printf("qwen3-moe-1b-random: %.2fB total / %.2fB active params, %.1f GB bf16, made in %.1fs\n",
                  double(pc.total) / 1e9, double(pc.active) / 1e9, double(w.bytes()) / 1e9, seconds_since(t));
    }
    report("qwen3-moe-1b (bf16)", be.threads(), prompt, decode,
           time_model(bench::Qwen3Moe1B::dims.vocab, [&](std::int64_t c) { return net.new_sequence(c); },
                      [&](auto& cache, std::span<const int> ids, std::vector<float>& logits) {
                        auto out = net.forward(ids, {{&cache, 0, std::int64_t(ids.size())}},
                                               layers::LogitRows::last_of_each_chunk);
                        be.copy_to_host(std::span<float>(logits), MatrixView<const float, Host>(out));
                      },
                      prompt, decode, repeat));
  }
  return 0;
}
