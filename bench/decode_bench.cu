// SPDX-License-Identifier: Apache-2.0
// decode_bench: times the CUDA backend on a random-weight model with Qwen3-30B-A3B's layer shape
// (hidden 2048, 32/4 heads of 128, 128 experts top-8 of 768, vocab 151936) and fewer layers:
// one prefill of P tokens, then S single-token decode steps through the KV cache, with the
// projections in fp32; then the same prefill with them in bf16 (gemm_lt.cuh), side by side.
// Prints one "bench ..." line per measurement (the device-check script collects them).
//
// Usage: decode_bench [layers=4] [prompt=512] [steps=32]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <templlm/core/numeric.hpp>
#include <templlm/core/tensor_source.hpp>
#include <templlm/kernels/cuda/backend.cuh>
#include <templlm/layers/transformer.hpp>
#include <templlm/model/qwen3_moe.hpp>

namespace {

using namespace templlm;

/// Qwen3-30B-A3B's shapes with a handful of layers (the layer loop is a runtime loop, so the
/// per-layer cost scales to the full 48).
template <int Layers>
struct Qwen3MoeShape : model::Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-30b-a3b-shape";
  static constexpr cfg::Dims dims{.hidden = 2048, .vocab = 151936, .layers = Layers};
  static constexpr cfg::RmsNorm norm = model::Qwen3_30B_A3B::norm;
  static constexpr cfg::Rope rope = model::Qwen3_30B_A3B::rope;
  static constexpr cfg::Gqa attention = model::Qwen3_30B_A3B::attention;
  static constexpr cfg::TopK router = model::Qwen3_30B_A3B::router;
  static constexpr cfg::SwiGlu expert = model::Qwen3_30B_A3B::expert;
  static constexpr auto hf_fields() { return model::detail::qwen3_moe_hf_fields<Qwen3MoeShape>(); }
};

/// Random bf16 tensors, one host buffer per distinct shape (every expert shares its bytes; the
/// backend still uploads each tensor separately). Vectors (norm weights) are near 1.
class RandomSource final : public TensorSource {
 public:
  WeightView<Host> get(std::string_view, std::initializer_list<std::int64_t> shape) const override {
    std::vector<std::int64_t> key(shape);
    auto& buf = buffers_[key];
    std::int64_t n = 1;
    for (auto d : key) n *= d;
    if (buf.empty()) {
      std::mt19937 rng(static_cast<unsigned>(n));
      std::normal_distribution<float> dist(key.size() == 1 ? 1.0f : 0.0f, 0.02f);
      buf.resize(static_cast<std::size_t>(n));
      for (auto& v : buf) v = f32_to_bf16(dist(rng));
    }
    WeightView<Host> w;
    w.dtype = DType::bf16;
    w.rank = static_cast<int>(key.size());
    std::copy(key.begin(), key.end(), w.shape.begin());
    w.data = reinterpret_cast<const std::byte*>(buf.data());
    return w;
  }
  bool contains(std::string_view) const override { return true; }

 private:
  mutable std::map<std::vector<std::int64_t>, std::vector<std::uint16_t>> buffers_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Loads the model on a backend of `precision`, times a prefill of `prompt` tokens and, when
/// steps > 0, that many decode steps; returns the prefill seconds.
template <class M>
double run_on(gpu::Precision precision, const RandomSource& src, int prompt, int steps) {
  gpu::Backend be(0, precision);
  const char* p = gpu::precision_name(precision);
  cudaDeviceProp prop{};
  gpu::cuda_check(cudaGetDeviceProperties(&prop, be.device()), "cudaGetDeviceProperties");
  auto t0 = std::chrono::steady_clock::now();
  layers::Transformer<M, gpu::Backend> net(be, src);
  be.synchronize();
  std::printf("bench %s (%d layers) on %s, %s: load %.2f s\n", std::string(M::name).c_str(), M::dims.layers,
              prop.name, p, seconds_since(t0));

  std::mt19937 rng(1);
  std::uniform_int_distribution<int> token(0, M::dims.vocab - 1);
  std::vector<int> ids(static_cast<std::size_t>(prompt));
  for (auto& id : ids) id = token(rng);
  auto timed_prefill = [&] {
    auto cache = net.new_sequence(prompt + steps + 8);
    const auto start = std::chrono::steady_clock::now();
    net.forward(ids, {{cache.get(), 0, prompt}}, layers::LogitRows::last_of_each_chunk);
    be.synchronize();
    return std::make_pair(seconds_since(start), std::move(cache));
  };
  timed_prefill();  // warm-up: buffers grow, cuBLAS loads its kernels, cuBLASLt picks algorithms
  auto [prefill_s, cache] = timed_prefill();
  std::printf("bench prefill %d tokens, %s: %.2f ms (%.0f tokens/s)\n", prompt, p, prefill_s * 1e3,
              prompt / prefill_s);
  if (steps <= 0) return prefill_s;

  std::vector<double> step_ms;
  std::vector<float> row(M::dims.vocab);
  int next = ids.back();
  for (int s = 0; s < steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    const int one[1] = {next};
    auto logits = net.forward(one, {{cache.get(), 0, 1}}, layers::LogitRows::last_of_each_chunk);
    be.copy_to_host(std::span<float>(row), MatrixView<const float, Device>(logits));
    step_ms.push_back(seconds_since(start) * 1e3);
    next = int(std::max_element(row.begin(), row.end()) - row.begin());
  }
  std::sort(step_ms.begin(), step_ms.end());
  const double median = step_ms[step_ms.size() / 2];
  std::printf("bench decode at context %d, %s: median %.3f ms/token over %d steps (min %.3f, max %.3f)\n",
              prompt, p, median, steps, step_ms.front(), step_ms.back());
  return prefill_s;
}

/// fp32 (prefill and decode), then bf16 (prefill only: decode steps take the GEMV in both).
template <class M>
int run(int prompt, int steps) {
  RandomSource src;
  const double fp32_s = run_on<M>(gpu::Precision::fp32, src, prompt, steps);
  const double bf16_s = run_on<M>(gpu::Precision::bf16, src, prompt, 0);
  std::printf("bench prefill %d tokens: fp32 %.2f ms, bf16 %.2f ms (bf16 %.2fx the speed)\n", prompt,
              fp32_s * 1e3, bf16_s * 1e3, fp32_s / bf16_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int layers = argc > 1 ? std::atoi(argv[1]) : 4;
  const int prompt = argc > 2 ? std::atoi(argv[2]) : 512;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 32;
  if (gpu::device_count() == 0) {
    std::printf("bench skipped: no CUDA device\n");
    return 0;
  }
  try {
    switch (layers) {
      case 1: return run<Qwen3MoeShape<1>>(prompt, steps);
      case 2: return run<Qwen3MoeShape<2>>(prompt, steps);
      default: return run<Qwen3MoeShape<4>>(prompt, steps);
    }
  } catch (const std::exception& e) {
    std::printf("bench failed: %s\n", e.what());
    return 1;
  }
}
