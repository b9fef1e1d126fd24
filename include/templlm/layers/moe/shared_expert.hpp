// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/shared_expert.hpp
/// The shared-expert component of a MoE block, selected by the type of M::shared like Attention
/// and Router. The primary template refuses to compile: a `shared` type the block does not know
/// must not quietly run as "no shared expert" (that gives wrong outputs with no error).
#pragma once
#include <string>
#include <type_traits>

#include "../../core/config.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor_source.hpp"
#include "../../core/type_list.hpp"
#include "../workspace.hpp"
#include "expert_layout.hpp"

namespace templlm::layers {

template <class Cfg>
inline constexpr bool has_shared_expert = false;

template <class M, class B, class Cfg = std::remove_cvref_t<decltype(M::shared)>>
class SharedExpert {
  static_assert(dependent_false<Cfg>,
                "templlm: no SharedExpert implementation for the type of M::shared. Use "
                "cfg::SharedExpert or cfg::NoSharedExpert, or add a specialization of "
                "layers::SharedExpert for it.");
};

/// No shared expert: the MoE output is the routed sum alone.
template <>
inline constexpr bool has_shared_expert<cfg::NoSharedExpert> = true;

template <class M, class B>
class SharedExpert<M, B, cfg::NoSharedExpert> {
 public:
  using Space = typename B::space;
  SharedExpert(B&, const TensorSource&, const std::string& /*prefix*/) {}
  void add_to(B&, Workspace<B>&, MatrixView<float, Space>, MatrixView<const float, Space>) const {}
};

/// `count` always-on experts of width `intermediate` on the block's (unscaled) normed input,
/// added to the routed sum. n shared experts of width I are one MLP of width n*I in every
/// released checkpoint (DeepSeek: n_shared_experts * moe_intermediate_size), so they load as one
/// gated FFN from "<prefix>{gate,up,down}_proj".
template <>
inline constexpr bool has_shared_expert<cfg::SharedExpert> = true;

template <class M, class B>
class SharedExpert<M, B, cfg::SharedExpert> {
 public:
  using Space = typename B::space;
  static constexpr cfg::SwiGlu ffn{.intermediate = M::shared.count * M::shared.intermediate};

  /// prefix: "model.layers.N.<block>.<shared>."
  SharedExpert(B& be, const TensorSource& src, const std::string& prefix)
      : w_(load_gated_ffn(be, src, prefix, M::dims.hidden, ffn, "gate_proj", "up_proj",
                          "down_proj")) {}

  /// out += shared(x)
  void add_to(B& be, Workspace<B>& ws, MatrixView<float, Space> out,
              MatrixView<const float, Space> x) const {
    auto shared = be.matrix(ws.shared, x.rows, M::dims.hidden);             // (T,H)
    be.gated_ffn(shared, x, w_, ffn);
    be.add(out, shared);
  }

 private:
  ExpertWeights<Space> w_;
};

}  // namespace templlm::layers
