// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/grouped_topk.hpp
/// Node-limited router (cfg::GroupedTopK, DeepSeek-V3): an fp32 linear to E logits, then the
/// backend's route_grouped_topk (sigmoid scores, "e_score_correction_bias" for selection only,
/// groups by the sum of their top-2, weights from the unbiased scores, renormalised, scaled).
#pragma once
#include <string>

#include "../../core/concepts.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor_source.hpp"
#include "../workspace.hpp"
#include "router.hpp"

namespace templlm::layers {

template <>
inline constexpr bool has_router<cfg::GroupedTopK> = true;

template <class M, class B>
class Router<M, B, cfg::GroupedTopK> {
 public:
  static constexpr cfg::GroupedTopK c = M::router;
  static_assert(c.groups >= 1 && c.experts % c.groups == 0 && c.experts / c.groups >= 2,
                "templlm: GroupedTopK.experts must split into groups of at least 2");
  static_assert(c.groups_active >= 1 && c.groups_active <= c.groups,
                "templlm: GroupedTopK.groups_active must be between 1 and groups");
  static_assert(c.active >= 1 && c.active <= c.groups_active * (c.experts / c.groups),
                "templlm: GroupedTopK.active exceeds the experts of the kept groups");
  using Space = typename B::space;

  /// name: "model.layers.N.mlp.gate" (no ".weight").
  Router(B& be, const TensorSource& src, const std::string& name) {
    weight_ = be.upload(src.get(name + ".weight", {std::int64_t{c.experts}, std::int64_t{M::dims.hidden}}));
    if constexpr (c.correction_bias)
      bias_ = be.upload_f32(src.get(name + ".e_score_correction_bias", {std::int64_t{c.experts}}));
  }

  /// x [T, H] -> each row's experts and weights [T, K] (in the workspace's buffers).
  Routing<Space> forward(B& be, Workspace<B>& ws, MatrixView<const float, Space> x) const {
    const std::int64_t t = x.rows;
    auto logits = be.matrix(ws.router_logits, t, c.experts);                 // (T,E)
    be.linear(logits, x, weight_);
    auto ids = be.matrix(ws.route_ids, t, c.active);
    auto weights = be.matrix(ws.route_weights, t, c.active);
    be.route_grouped_topk(ids, weights, logits, bias_, c);
    return {ids, weights};
  }

  static constexpr bool scales_input = false;

 private:
  WeightView<Space> weight_;
  VectorView<const float, Space> bias_;
};

}  // namespace templlm::layers
