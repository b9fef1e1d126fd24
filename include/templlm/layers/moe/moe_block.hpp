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
#include "expert_layout.hpp"
#include "router.hpp"
#include "topk.hpp"
#include "grouped_topk.hpp"

namespace templlm::layers {

template <class M, class B>
class MoeBlock {
 public:
  using Space = typename B::space;
  static constexpr bool has_shared =
      std::is_same_v<std::remove_cvref_t<decltype(M::shared)>, cfg::SharedExpert>;
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::expert)>, cfg::SwiGlu>,
                "templlm: MoeBlock needs M::expert to be a cfg::SwiGlu");
  static constexpr auto names = M::moe_names;
  static constexpr std::int64_t experts = M::router.experts;

  /// prefix: "model.layers.N."
  MoeBlock(B& be, const TensorSource& src, const std::string& prefix)
      : router_(be, src, prefix + std::string(names.block) + "." + std::string(names.router)) {
    const std::string block = prefix + std::string(names.block) + ".";
    experts_ = be.prepare_experts(load_routed_experts<M, B>(be, src, block), M::dims.hidden, M::expert);
    if constexpr (has_shared)
      shared_ = load_gated_ffn(be, src, block + std::string(names.shared) + ".", M::dims.hidden,
                               shared_ffn, "gate_proj", "up_proj", "down_proj");
  }

  void forward(B& be, Workspace<B>& ws, MatrixView<float, Space> out,
               MatrixView<const float, Space> x, std::vector<int>* trace) const {
    const std::int64_t t = x.rows, k = M::router.active;
    const Routing<Space> routing = router_.forward(be, ws, x);
    be.moe_experts(out, x, routing, experts_, M::expert, Router<M, B>::scales_input);
    if constexpr (has_shared) {  // on the same (unscaled) normed input, added to the routed sum
      auto shared = be.matrix(ws.shared, t, M::dims.hidden);                 // (T,H)
      be.gated_ffn(shared, x, shared_, shared_ffn);
      be.add(out, shared);
    }
    if (trace) {
      trace->resize(static_cast<std::size_t>(t * k));
      be.copy_to_host(std::span<int>(*trace), routing.ids);
    }
  }

 private:
  /// The shared expert(s) as one gated FFN: n shared experts of width I are one MLP of width n*I
  /// in every released checkpoint (DeepSeek: n_shared_experts * moe_intermediate_size).
  static constexpr cfg::SwiGlu shared_ffn = [] {
    if constexpr (has_shared) return cfg::SwiGlu{.intermediate = M::shared.count * M::shared.intermediate};
    else return cfg::SwiGlu{.intermediate = 0};
  }();

  Router<M, B> router_;
  typename B::Experts experts_;
  ExpertWeights<Space> shared_;
};

}  // namespace templlm::layers
