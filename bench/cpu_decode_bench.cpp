// SPDX-License-Identifier: Apache-2.0
// CPU prefill and decode tokens/s through the generation runtime's batched step API:
//   cpu_decode_bench [--demo DIR] [--threads N] [--prompt T] [--decode N] [--skip-1b]
// (1) the embedded demo model (models/demo, from its mmap'd safetensors);
// (2) a ~1B-parameter random-weight Qwen3-MoE-shaped model (io::RandomWeights, bf16).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <span>
#include <vector>
#include <string>
#include <templlm/io/random_weights.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/all.hpp>
#include <templlm/model/params.hpp>
#include <templlm/runtime/registry.hpp>

namespace {
using namespace templlm;

/// Qwen3-MoE-shaped, ~1.0B total / ~0.2B active parameters.
struct Qwen3Moe1B : model::Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-moe-1b-random";
  static constexpr cfg::Dims dims{.hidden = 1024, .vocab = 32000, .layers = 12};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 16, .kv_heads = 4, .head_dim = 64, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 32, .active = 4};
  static constexpr cfg::SwiGlu expert{.intermediate = 768};
  static constexpr auto hf_fields() { return model::detail::qwen3_moe_hf_fields<Qwen3Moe1B>(); }
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Times one prompt of `prompt` tokens then `decode` single-token steps.
template <class StepFn, class NewSeq>
void time_model(const char* name, std::int64_t vocab, NewSeq new_seq, StepFn step, int prompt, int decode) {
  std::vector<int> ids(std::size_t(prompt));
  for (int i = 0; i < prompt; ++i) ids[std::size_t(i)] = (i * 7919 + 13) % int(vocab);
  std::vector<float> logits(std::size_t(vocab));
  auto seq = new_seq(prompt + decode + 1);
  auto t = std::chrono::steady_clock::now();
  step(*seq, std::span<const int>(ids), logits);
  const double pre = seconds_since(t);
  int tok = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
  t = std::chrono::steady_clock::now();
  for (int i = 0; i < decode; ++i) {
    step(*seq, std::span<const int>(&tok, 1), logits);
    tok = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const double dec = seconds_since(t);
  std::printf("%-22s prefill %4d tok: %8.1f tok/s | decode %4d tok: %7.1f tok/s\n", name, prompt,
              prompt / pre, decode, decode / dec);
}
}  // namespace

int main(int argc, char** argv) {
  std::string demo = TEMPLLM_DEMO_DIR;
  unsigned threads = 0;
  int prompt = 128, decode = 64;
  bool skip_1b = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--demo" && i + 1 < argc) demo = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads = unsigned(std::stoul(argv[++i]));
    else if (a == "--prompt" && i + 1 < argc) prompt = std::stoi(argv[++i]);
    else if (a == "--decode" && i + 1 < argc) decode = std::stoi(argv[++i]);
    else if (a == "--skip-1b") skip_1b = true;
    else {
      std::fprintf(stderr, "usage: cpu_decode_bench [--demo DIR] [--threads N] [--prompt T] [--decode N] [--skip-1b]\n");
      return 2;
    }
  }
  cpu::Backend be(threads);
  std::printf("threads: %u\n", be.threads());
  auto by_step = [](runtime::AnyModel& m) {
    return [&m](runtime::Sequence& s, std::span<const int> ids, std::vector<float>& logits) {
      const runtime::Step st{&s, ids};
      m.step(std::span<const runtime::Step>(&st, 1), logits);
    };
  };
  {
    auto m = runtime::load_model(model::DemoModels{}, be, demo);
    time_model("templlm-demo (bf16)", m->vocab(), [&](std::int64_t c) { return m->new_sequence(c); },
               by_step(*m), prompt, decode);
  }
  if (!skip_1b) {
    const auto t = std::chrono::steady_clock::now();
    io::RandomWeights w(1, 0.02f);
    layers::Transformer<Qwen3Moe1B, cpu::Backend> net(be, w);
    const auto pc = model::param_count<Qwen3Moe1B>();
    std::printf("qwen3-moe-1b-random: %.2fB total / %.2fB active params, %.1f GB bf16, made in %.1fs\n",
                double(pc.total) / 1e9, double(pc.active) / 1e9, double(w.bytes()) / 1e9, seconds_since(t));
    time_model("qwen3-moe-1b (bf16)", Qwen3Moe1B::dims.vocab,
               [&](std::int64_t c) { return net.make_cache(c); },
               [&](auto& cache, std::span<const int> ids, std::vector<float>& logits) {
                 auto out = net.forward(ids, {{&cache, 0, std::int64_t(ids.size())}},
                                        layers::LogitRows::last_of_each_chunk);
                 be.copy_to_host(std::span<float>(logits), MatrixView<const float, Host>(out));
               },
               prompt, decode);
  }
  return 0;
}
