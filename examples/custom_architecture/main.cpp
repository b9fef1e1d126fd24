// SPDX-License-Identifier: Apache-2.0
/// \file examples/custom_architecture/main.cpp
/// Adding an architecture = writing one struct.
///
/// Background: templlm has no architecture enum. A model is a struct of compile-time component
/// configs (core/config.hpp); the layers (layers/) pick their implementation from the *type* of
/// each member and size it from its *values*. A new model that only recombines existing
/// mechanisms needs nothing else: no switch to extend, no registry to edit except the type list
/// the CLI loads from (model/all.hpp), and a tiny fixture to prove it exact.
///
/// What this shows: "MyMoe", an invented model mixing Qwen3's q/k norm with biased q/k/v
/// projections (Qwen2-style), Mixtral's tensor names, 6 experts with top-3, and a dense first
/// layer. It is instantiated on the CPU backend with random weights and run on a batch of two
/// sequences, then one decode step.
///
/// Usage: build/bin/custom_architecture
#include <array>
#include <cstdio>
#include <templlm/io/random_weights.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/layers/transformer.hpp>
#include <templlm/model/params.hpp>

namespace my {

namespace cfg = templlm::cfg;

struct MyMoe {
  static constexpr std::string_view name = "my-moe";
  static constexpr std::string_view hf_architecture = "MyMoeForCausalLM";
  static constexpr cfg::Dims dims{.hidden = 96, .vocab = 1000, .layers = 3};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{.heads = 6, .kv_heads = 2, .head_dim = 32,
                                      .qkv_bias = true, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 6, .active = 3};
  static constexpr cfg::SwiGlu expert{.intermediate = 64};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 192};
  static constexpr cfg::NoSharedExpert shared{};
  static constexpr cfg::MoeNames moe_names{.block = "block_sparse_moe", .router = "gate",
                                           .experts = "experts", .gate = "w1", .up = "w3",
                                           .down = "w2"};
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr bool tied_embeddings = false;
  static constexpr bool active_counts_embedding = true;
  static constexpr cfg::LayerPlan layer(int i) {
    return {cfg::Mixer::full, i == 0 ? cfg::Ffn::dense : cfg::Ffn::moe};
  }
  // The config.json fields a checkpoint of this architecture must carry.
  static constexpr auto hf_fields() {
    return std::array{cfg::number("hidden_size", dims.hidden), cfg::number("vocab_size", dims.vocab)};
  }
};

// The contract is checked at compile time; a missing member fails here with the concept's name.
static_assert(templlm::ModelDescription<MyMoe>);
static_assert(templlm::layers::runnable<MyMoe>, "every component of MyMoe has an implementation");

}  // namespace my

int main() {
  using namespace templlm;
  using M = my::MyMoe;
  constexpr auto params = model::param_count<M>();
  std::printf("%s: %lld parameters, %lld active per token\n", M::name.data(),
              static_cast<long long>(params.total), static_cast<long long>(params.active));

  cpu::Backend be(2);
  io::RandomWeights weights(/*seed=*/7, /*scale=*/0.1f);
  layers::Transformer<M, cpu::Backend> net(be, weights);

  // A batch of two sequences of different lengths, each with its pages of the model's KV pool.
  auto a = net.new_sequence(64), b = net.new_sequence(64);
  const std::vector<int> ids = {1, 5, 9, 200, 7, 42, 999, 3, 14};  // 5 tokens of a, 4 of b
  auto logits = net.forward(ids, {{a.get(), 0, 5}, {b.get(), 5, 4}},
                            layers::LogitRows::last_of_each_chunk);
  std::printf("prefill: logits [%lld, %lld]; cache lengths %lld and %lld\n",
              static_cast<long long>(logits.rows), static_cast<long long>(logits.cols),
              static_cast<long long>(a->length()), static_cast<long long>(b->length()));

  // One decode step for each sequence, again batched.
  const std::vector<int> next = {11, 12};
  logits = net.forward(next, {{a.get(), 0, 1}, {b.get(), 1, 1}}, layers::LogitRows::last_of_each_chunk);
  std::printf("decode: logits [%lld, %lld]; cache lengths %lld and %lld\n",
              static_cast<long long>(logits.rows), static_cast<long long>(logits.cols),
              static_cast<long long>(a->length()), static_cast<long long>(b->length()));
  return (a->length() == 6 && b->length() == 5) ? 0 : 1;
}
