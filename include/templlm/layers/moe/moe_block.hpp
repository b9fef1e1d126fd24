// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/moe_block.hpp
/// A mixture-of-experts FFN: router, routed experts summed in ascending expert order, plus the
/// the shared-expert component selected by M::shared (shared_expert.hpp).
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
#include "shared_expert.hpp"
#include "topk.hpp"
#include "grouped_topk.hpp"

namespace templlm::layers {

template <class M, class B>
class MoeBlock {
 public:
  using Space = typename B::space;
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::expert)>, cfg::SwiGlu>,
                "templlm: MoeBlock needs M::expert to be a cfg::SwiGlu");
  static constexpr auto names = M::moe_names;
  static constexpr std::int64_t experts = M::router.experts;

  /// prefix: "model.layers.N."
  MoeBlock(B& be, const TensorSource& src, const std::string& prefix)
      : router_(be, src, prefix + std::string(names.block) + "." + std::string(names.router)),
        shared_(be, src, prefix + std::string(names.block) + "." + std::string(names.shared) + ".") {
    const std::string block = prefix + std::string(names.block) + ".";
    experts_ = be.prepare_experts(load_routed_experts<M, B>(be, src, block), M::dims.hidden, M::expert);
  }

  void forward(B& be, Workspace<B>& ws, MatrixView<float, Space> out,
               MatrixView<const float, Space> x, std::vector<int>* trace) const {
    const std::int64_t t = x.rows, k = M::router.active;
    const Routing<Space> routing = router_.forward(be, ws, x);
    be.moe_experts(out, x, routing, experts_, M::expert, Router<M, B>::scales_input);
    shared_.add_to(be, ws, out, x);  // on the same (unscaled) normed input
    if (trace) {
      trace->resize(static_cast<std::size_t>(t * k));
      be.copy_to_host(std::span<int>(*trace), routing.ids);
    }
  }

 private:
  Router<M, B> router_;
  typename B::Experts experts_;
  SharedExpert<M, B> shared_;
};

}  // namespace templlm::layers
