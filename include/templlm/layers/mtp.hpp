// SPDX-License-Identifier: Apache-2.0
/// \file layers/mtp.hpp
/// DeepSeek-V3's multi-token-prediction module, stored after the main layers as
/// "model.layers.<L>.*" (L = dims.layers; 61 in the release): enorm and hnorm (RMSNorm of the
/// next token's embedding and of the main model's last hidden state), eh_proj [H, 2H] (FP8
/// blocks), one full decoder layer, and shared_head.{norm,head}; the release also repeats
/// embed_tokens there. Not part of the main forward (HF ignores it): it is loaded into this
/// structure of its own so that speculative decoding can drive it later, and a checkpoint
/// without it simply has no MTP module.
#pragma once
#include <memory>
#include <string>

#include "../core/concepts.hpp"
#include "../core/tensor_source.hpp"
#include "decoder_layer.hpp"
#include "fp8_weight.hpp"

namespace templlm::layers {

template <class M, class B>
class MtpLayer {
 public:
  using Space = typename B::space;
  static constexpr int index = M::dims.layers;

  /// "model.layers.<L>."
  static std::string prefix() { return std::string(M::prefix.model) + "layers." + std::to_string(index) + "."; }
  /// Whether the checkpoint carries the MTP module.
  static bool present(const TensorSource& src) { return src.contains(prefix() + "eh_proj.weight"); }

  MtpLayer(B& be, const TensorSource& src) : block_(be, src, index) {
    const std::string p = prefix();
    const std::int64_t h = M::dims.hidden, v = M::dims.vocab;
    enorm_ = be.upload_f32(src.get(p + "enorm.weight", {h}));
    hnorm_ = be.upload_f32(src.get(p + "hnorm.weight", {h}));
    head_norm_ = be.upload_f32(src.get(p + "shared_head.norm.weight", {h}));
    eh_proj_ = be.upload(get_linear_weight(src, p + "eh_proj.weight", h, 2 * h));
    head_ = be.upload(src.get(p + "shared_head.head.weight", {v, h}));
    if (src.contains(p + "embed_tokens.weight")) embed_ = be.upload(src.get(p + "embed_tokens.weight", {v, h}));
  }

  const DecoderLayer<M, B>& block() const { return block_; }
  const WeightView<Space>& eh_proj() const { return eh_proj_; }
  const WeightView<Space>& head() const { return head_; }
  const WeightView<Space>& embed() const { return embed_; }
  VectorView<const float, Space> enorm() const { return enorm_; }
  VectorView<const float, Space> hnorm() const { return hnorm_; }
  VectorView<const float, Space> head_norm() const { return head_norm_; }

 private:
  DecoderLayer<M, B> block_;
  VectorView<const float, Space> enorm_, hnorm_, head_norm_;
  WeightView<Space> eh_proj_, head_, embed_;
};

/// The MTP module of a checkpoint, or nullptr when it has none.
template <class M, class B>
std::unique_ptr<MtpLayer<M, B>> load_mtp(B& be, const TensorSource& src) {
  if (!MtpLayer<M, B>::present(src)) return nullptr;
  return std::make_unique<MtpLayer<M, B>>(be, src);
}

}  // namespace templlm::layers
