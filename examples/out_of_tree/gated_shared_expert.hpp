// SPDX-License-Identifier: Apache-2.0
/// \file gated_shared_expert.hpp
/// A mechanism the library does not have, added from outside it: Qwen2-MoE's gated shared
/// expert (HF Qwen2MoeSparseMoeBlock): out = routed + sigmoid(x . w_gate) * shared_mlp(x), with
/// w_gate = "mlp.shared_expert_gate.weight" [1, hidden]. Three pieces, none in templlm:
///   1. a config type (its *type* selects the component, its values size it),
///   2. the component: a specialization of templlm::layers::SharedExpert for that type,
///   3. (optional) its parameter count, for templlm::model::param_count,
///   4. the one op it needs that no backend has (a per-row sigmoid scale), written here for the
///      CPU backend; a GPU build would add a kernel for gpu::Backend the same way.
#pragma once
#include <string>

#include <templlm/templlm.hpp>

namespace my {

/// Qwen2-MoE's shared expert: one SwiGLU MLP of `intermediate` units behind a sigmoid gate.
struct GatedSharedExpert {
  int intermediate;
};

/// Its weights, for templlm::model::param_count (found there by ADL, so this header need not be
/// included before the library's): the SwiGLU MLP and the [1, hidden] gate.
constexpr std::int64_t parameter_count(const GatedSharedExpert& s, std::int64_t hidden) {
  return 3 * hidden * s.intermediate + hidden;
}

/// y[r, :] *= sigmoid(g[r, 0]), as torch's F.sigmoid(gate) * shared in fp32.
inline void scale_rows_by_sigmoid(templlm::cpu::Backend&, templlm::MatrixView<float, templlm::Host> y,
                                  templlm::MatrixView<const float, templlm::Host> g) {
  for (std::int64_t r = 0; r < y.rows; ++r) {
    const float s = templlm::math::sigmoid(g.row(r)[0]);
    for (std::int64_t c = 0; c < y.cols; ++c) y.row(r)[c] *= s;
  }
}

}  // namespace my

namespace templlm::layers {

template <>
inline constexpr bool has_shared_expert<my::GatedSharedExpert> = true;

template <class M, class B>
class SharedExpert<M, B, my::GatedSharedExpert> {
 public:
  using Space = typename B::space;
  static constexpr cfg::SwiGlu ffn{.intermediate = M::shared.intermediate};

  /// prefix: "model.layers.N.mlp.shared_expert."; the gate sits beside it, ".._gate.weight".
  SharedExpert(B& be, const TensorSource& src, const std::string& prefix)
      : w_(load_gated_ffn(be, src, prefix, M::dims.hidden, ffn, "gate_proj", "up_proj", "down_proj")),
        gate_(be.upload(src.get(prefix.substr(0, prefix.size() - 1) + "_gate.weight",
                                {1, std::int64_t{M::dims.hidden}}))) {}

  /// out += sigmoid(x . w_gate) * shared(x), on the block's normed input.
  void add_to(B& be, Workspace<B>& ws, MatrixView<float, Space> out, MatrixView<const float, Space> x) const {
    auto shared = be.matrix(ws.shared, x.rows, M::dims.hidden);             // (T,H)
    auto gate = be.matrix(ws.component, x.rows, 1);                          // (T,1)
    be.gated_ffn(shared, x, w_, ffn);
    be.linear(gate, x, gate_);
    my::scale_rows_by_sigmoid(be, shared, gate);
    be.add(out, shared);
  }

 private:
  ExpertWeights<Space> w_;
  WeightView<Space> gate_;
};

}  // namespace templlm::layers
