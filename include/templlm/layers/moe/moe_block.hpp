// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/moe_block.hpp
/// A mixture-of-experts FFN: router, routed experts summed in ascending expert order, plus the
/// shared expert(s) when the description has them.
#pragma once
#include <string>
#include <vector>

#include "../../core/concepts.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor_source.hpp"
#include "../batch.hpp"
#include "../workspace.hpp"
#include "router.hpp"
#include "topk.hpp"

namespace templlm::layers {

/// Loads one gated FFN from "<prefix><gate>.weight" etc. in [out, in] layout.
template <class B>
ExpertWeights<typename B::space> load_gated_ffn(B& be, const TensorSource& src,
                                                const std::string& prefix, std::int64_t hidden,
                                                const cfg::SwiGlu& f, std::string_view gate,
                                                std::string_view up, std::string_view down) {
  const std::int64_t inter = f.intermediate;
  ExpertWeights<typename B::space> w;
  w.gate = be.upload(src.get(prefix + std::string(gate) + ".weight", {inter, hidden}));
  w.up = be.upload(src.get(prefix + std::string(up) + ".weight", {inter, hidden}));
  w.down = be.upload(src.get(prefix + std::string(down) + ".weight", {hidden, inter}));
  if (f.bias) {
    w.gate_bias = be.upload(src.get(prefix + std::string(gate) + ".bias", {inter}));
    w.up_bias = be.upload(src.get(prefix + std::string(up) + ".bias", {inter}));
    w.down_bias = be.upload(src.get(prefix + std::string(down) + ".bias", {hidden}));
  }
  return w;
}

template <class M, class B>
class MoeBlock {
 public:
  using Space = typename B::space;
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::shared)>, cfg::NoSharedExpert>,
                "templlm: shared experts are not implemented in MoeBlock yet (DeepSeek-V3 and "
                "Llama 4 bring them)");
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::expert)>, cfg::SwiGlu>,
                "templlm: MoeBlock needs M::expert to be a cfg::SwiGlu");
  static constexpr auto names = M::moe_names;
  static constexpr std::int64_t experts = M::router.experts;

  /// prefix: "model.layers.N."
  MoeBlock(B& be, const TensorSource& src, const std::string& prefix)
      : router_(be, src, prefix + std::string(names.block) + "." + std::string(names.router)) {
    const std::string block = prefix + std::string(names.block) + ".";
    experts_.reserve(experts);
    for (std::int64_t e = 0; e < experts; ++e)
      experts_.push_back(load_gated_ffn(
          be, src, block + std::string(names.experts) + "." + std::to_string(e) + ".",
          M::dims.hidden, M::expert, names.gate, names.up, names.down));
  }

  void forward(B& be, Workspace<B>& ws, MatrixView<float, Space> out,
               MatrixView<const float, Space> x, std::vector<int>* trace) const {
    const std::int64_t t = x.rows, k = M::router.active;
    router_.forward(be, ws, x);
    auto ids = be.matrix(ws.route_ids, t, k);
    be.moe_experts(out, x, ids, be.matrix(ws.route_weights, t, k), experts_, M::expert,
                   Router<M, B>::scales_input);
    if (trace) {
      trace->resize(static_cast<std::size_t>(t * k));
      be.copy_to_host(std::span<int>(*trace), MatrixView<const int, Space>(ids));
    }
  }

 private:
  Router<M, B> router_;
  std::vector<ExpertWeights<Space>> experts_;
};

}  // namespace templlm::layers
