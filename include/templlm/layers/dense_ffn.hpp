// SPDX-License-Identifier: Apache-2.0
/// \file layers/dense_ffn.hpp
/// A dense gated FFN layer (M::dense_ffn): down(act(gate(x)) * up(x)).
#pragma once
#include <string>

#include "../core/concepts.hpp"
#include "../core/tensor_source.hpp"
#include "moe/moe_block.hpp"
#include "workspace.hpp"

namespace templlm::layers {

template <class M, class B>
class DenseFfn {
 public:
  using Space = typename B::space;
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::dense_ffn)>, cfg::SwiGlu>,
                "templlm: a layer planned as Ffn::dense needs M::dense_ffn to be a cfg::SwiGlu");

  /// prefix: "model.layers.N."
  DenseFfn(B& be, const TensorSource& src, const std::string& prefix)
      : w_(load_gated_ffn(be, src, prefix + std::string(M::moe_names.block) + ".", M::dims.hidden,
                          M::dense_ffn, "gate_proj", "up_proj", "down_proj")) {}

  void forward(B& be, Workspace<B>&, MatrixView<float, Space> out, MatrixView<const float, Space> x,
               std::vector<int>*) const {
    be.gated_ffn(out, x, w_, M::dense_ffn);
  }

 private:
  ExpertWeights<Space> w_;
};

}  // namespace templlm::layers
