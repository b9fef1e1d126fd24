// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/topk.hpp
/// Flat top-k router (cfg::TopK): a linear layer (optionally with bias) to E logits, then the
/// backend's route_topk with the config's scoring rule.
#pragma once
#include <string>

#include "../../core/concepts.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor_source.hpp"
#include "../workspace.hpp"
#include "router.hpp"

namespace templlm::layers {

template <>
inline constexpr bool has_router<cfg::TopK> = true;

template <class M, class B>
class Router<M, B, cfg::TopK> {
 public:
  static constexpr cfg::TopK c = M::router;
  static_assert(c.active >= 1 && c.active <= c.experts,
                "templlm: TopK.active must be between 1 and TopK.experts");
  using Space = typename B::space;

  /// name: "model.layers.N.mlp.gate" (no ".weight").
  Router(B& be, const TensorSource& src, const std::string& name) {
    weight_ = be.upload(src.get(name + ".weight", {std::int64_t{c.experts}, std::int64_t{M::dims.hidden}}));
    if constexpr (c.bias) bias_ = be.upload(src.get(name + ".bias", {std::int64_t{c.experts}}));
  }

  /// x [T, H] -> each row's experts and weights [T, K] (in the workspace's buffers).
  Routing<Space> forward(B& be, Workspace<B>& ws, MatrixView<const float, Space> x) const {
    const std::int64_t t = x.rows;
    auto logits = be.matrix(ws.router_logits, t, c.experts);                 // (T,E)
    be.linear(logits, x, weight_, bias_);
    auto ids = be.matrix(ws.route_ids, t, c.active);
    auto weights = be.matrix(ws.route_weights, t, c.active);
    be.route_topk(ids, weights, logits, c);
    return {ids, weights};
  }

  /// The expert input is scaled by the routing weight instead of the output (Llama 4).
  static constexpr bool scales_input = c.weight_input;

 private:
  WeightView<Space> weight_, bias_;
};

}  // namespace templlm::layers
