// SPDX-License-Identifier: Apache-2.0
/// \file layers/decoder_layer.hpp
/// One pre-norm decoder layer: h = x + attn(norm(x)); out = h + ffn(norm(h)). The FFN is dense
/// or MoE per M::layer(i); the variant holds only the kinds the description can produce, so a
/// model without dense layers never instantiates DenseFfn.
#pragma once
#include <string>
#include <type_traits>
#include <variant>

#include "../core/concepts.hpp"
#include "../core/tensor_source.hpp"
#include "attention/attention.hpp"
#include "attention/gqa.hpp"
#include "attention/mla.hpp"
#include "dense_ffn.hpp"
#include "moe/moe_block.hpp"

namespace templlm::layers {

template <class M>
constexpr bool has_dense_layers() {
  for (int i = 0; i < M::dims.layers; ++i)
    if (M::layer(i).ffn == cfg::Ffn::dense) return true;
  return false;
}
template <class M>
constexpr bool has_moe_layers() {
  for (int i = 0; i < M::dims.layers; ++i)
    if (M::layer(i).ffn == cfg::Ffn::moe) return true;
  return false;
}

template <class M, class B>
using FfnVariant = std::conditional_t<
    has_dense_layers<M>() && has_moe_layers<M>(), std::variant<DenseFfn<M, B>, MoeBlock<M, B>>,
    std::conditional_t<has_dense_layers<M>(), std::variant<DenseFfn<M, B>>,
                       std::variant<MoeBlock<M, B>>>>;

template <class M, class B>
class DecoderLayer {
 public:
  using Space = typename B::space;
  using Ffn = FfnVariant<M, B>;

  DecoderLayer(B& be, const TensorSource& src, int index)
      : index_(index),
        plan_(M::layer(index)),
        prefix_(std::string(M::prefix.model) + "layers." + std::to_string(index) + "."),
        input_norm_(be.upload_f32(src.get(prefix_ + "input_layernorm.weight", {std::int64_t{M::dims.hidden}}))),
        post_norm_(
            be.upload_f32(src.get(prefix_ + "post_attention_layernorm.weight", {std::int64_t{M::dims.hidden}}))),
        attention_(be, src, prefix_ + "self_attn.", plan_),
        ffn_(make_ffn(be, src)) {}

  const cfg::LayerPlan& plan() const { return plan_; }

  /// hidden [T, H] is updated in place; the layer's keys and values go to `cache`.
  template <class T>
  void forward(B& be, Workspace<B>& ws, MatrixView<float, Space> hidden, const StepPlan<Space>& step,
               const LayerCache<T, Space>& cache, const RopeView<Space>& rope,
               std::vector<int>* trace) const {
    const std::int64_t t = hidden.rows, h = M::dims.hidden;
    auto normed = be.matrix(ws.normed, t, h);                               // (T,H)
    auto mixed = be.matrix(ws.mixed, t, h);                                 // (T,H)
    be.rms_norm(normed, hidden, input_norm_, M::norm.eps);
    attention_.forward(be, ws, mixed, normed, step, cache, rope);
    be.add(hidden, mixed);
    be.rms_norm(normed, hidden, post_norm_, M::norm.eps);
    std::visit([&](const auto& ffn) { ffn.forward(be, ws, mixed, normed, trace); }, ffn_);
    be.add(hidden, mixed);
  }

 private:
  Ffn make_ffn(B& be, const TensorSource& src) {
    if constexpr (has_dense_layers<M>())
      if (plan_.ffn == cfg::Ffn::dense) return Ffn(std::in_place_type<DenseFfn<M, B>>, be, src, prefix_);
    if constexpr (has_moe_layers<M>())
      return Ffn(std::in_place_type<MoeBlock<M, B>>, be, src, prefix_);
    throw Error("templlm: unreachable: layer plan has no FFN kind");
  }

  int index_;
  cfg::LayerPlan plan_;
  std::string prefix_;
  VectorView<const float, Space> input_norm_, post_norm_;
  Attention<M, B> attention_;
  Ffn ffn_;
};

}  // namespace templlm::layers
