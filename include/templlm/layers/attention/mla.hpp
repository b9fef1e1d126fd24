// SPDX-License-Identifier: Apache-2.0
/// \file layers/attention/mla.hpp
/// Multi-head latent attention (cfg::Mla, DeepSeek-V3; design/architectures.md §2.4-2.5):
/// q LoRA path (q_a_proj -> RMSNorm -> q_b_proj), kv_a_proj_with_mqa -> latent + shared rope key,
/// kv_a_layernorm on the latent only, RoPE (interleaved, YaRN table) on the rope parts only, and
/// the softmax scale qk_head_dim^-0.5 * mscale^2 (YaRN mscale_all_dim). The cache holds only the
/// latent and the roped key (kv_lora_rank + qk_rope_dim floats per position); single-token
/// chunks (decode) run the absorbed form over it, longer chunks (prefill) expand K/V as HF does.
/// Every projection may be FP8-block-quantised (layers/fp8_weight.hpp).
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "../../core/concepts.hpp"
#include "../../core/mla_args.hpp"
#include "../../core/tensor_source.hpp"
#include "../batch.hpp"
#include "../fp8_weight.hpp"
#include "../rope.hpp"
#include "../workspace.hpp"
#include "attention.hpp"

namespace templlm::layers {

template <>
inline constexpr bool has_attention<cfg::Mla> = true;

/// HF DeepseekV3Attention.scaling: qk_head_dim^-0.5, times mscale^2 when the YaRN config has a
/// truthy mscale_all_dim (yarn_apply_mscale).
template <class M>
constexpr double mla_softmax_scale_sq_factor() {
  if constexpr (requires { M::rope.mscale_all_dim; }) {
    if (M::rope.mscale_all_dim != 0.0) return 1.0;  // computed at run time (std::log)
  }
  return 0.0;
}
template <class M>
inline double mla_softmax_scale() {
  constexpr auto c = M::attention;
  double s = 1.0 / std::sqrt(double(c.qk_nope_dim + c.qk_rope_dim));
  if constexpr (mla_softmax_scale_sq_factor<M>() != 0.0) {
    const double m = yarn_mscale(M::rope.factor, M::rope.mscale_all_dim);
    s = s * m * m;
  }
  return s;
}

template <class M, class B>
class Attention<M, B, cfg::Mla> {
 public:
  static constexpr cfg::Mla c = M::attention;
  static_assert(c.head_dim == c.qk_rope_dim,
                "templlm: Mla.head_dim (the RoPE table's dim) must equal qk_rope_dim, as HF sets it");
  static_assert(c.qk_rope_dim % 2 == 0, "templlm: Mla.qk_rope_dim must be even for RoPE");
  using Space = typename B::space;
  static constexpr std::int64_t qk = c.qk_nope_dim + c.qk_rope_dim;
  static constexpr std::int64_t q_width = std::int64_t(c.heads) * qk;
  static constexpr std::int64_t latent_width = c.kv_lora_rank + c.qk_rope_dim;
  static constexpr std::int64_t o_width = std::int64_t(c.heads) * c.v_head_dim;

  /// Elements per position this layer's cache holds: the latent and the roped key, no values.
  static constexpr std::int64_t cache_k_width = latent_width, cache_v_width = 0;

  /// prefix: "model.layers.N.self_attn."
  Attention(B& be, const TensorSource& src, const std::string& prefix, cfg::LayerPlan plan)
      : plan_(plan), scale_(float(mla_softmax_scale<M>())) {
    const std::int64_t h = M::dims.hidden;
    auto lin = [&](const char* n, std::int64_t out, std::int64_t in) {
      return be.upload(get_linear_weight(src, prefix + n + ".weight", out, in));
    };
    q_a_ = lin("q_a_proj", c.q_lora_rank, h);
    q_b_ = lin("q_b_proj", q_width, c.q_lora_rank);
    kv_a_ = lin("kv_a_proj_with_mqa", latent_width, h);
    kv_b_ = lin("kv_b_proj", std::int64_t(c.heads) * (c.qk_nope_dim + c.v_head_dim), c.kv_lora_rank);
    o_ = lin("o_proj", h, o_width);
    q_a_norm_ = be.upload_f32(src.get(prefix + "q_a_layernorm.weight", {std::int64_t{c.q_lora_rank}}));
    kv_a_norm_ = be.upload_f32(src.get(prefix + "kv_a_layernorm.weight", {std::int64_t{c.kv_lora_rank}}));
  }

  /// out [T, H] = attention over x [T, H] (already normed) for the whole step; stores the
  /// step's latents in the layer's pages.
  template <class T>
  void forward(B& be, Workspace<B>& ws, MatrixView<float, Space> out, MatrixView<const float, Space> x,
               const StepPlan<Space>& step, const LayerCache<T, Space>& cache,
               const RopeView<Space>& rope) const {
    const std::int64_t t = x.rows;
    auto cq = be.matrix(ws.cq, t, c.q_lora_rank);                           // (T,q_lora)
    auto q = be.matrix(ws.q, t, q_width);                                   // (T,nh*qk)
    auto latent = be.matrix(ws.latent, t, latent_width);                    // (T,rank+rope)
    auto o = be.matrix(ws.attn, t, o_width);                                // (T,nh*v)
    be.linear(cq, x, q_a_);
    be.rms_norm(cq, cq, q_a_norm_, M::norm.eps);
    be.linear(q, cq, q_b_);
    be.linear(latent, x, kv_a_);
    auto c_part = latent.col_range(0, c.kv_lora_rank);                     // k_pe is not normed
    be.rms_norm(c_part, c_part, kv_a_norm_, M::norm.eps);
    be.rope_part(q, c.heads, int(qk), c.qk_nope_dim, step.positions, rope);
    be.rope_part(latent, 1, int(latent_width), c.kv_lora_rank, step.positions, rope);
    const MlaArgs args{c.heads, c.qk_nope_dim, c.qk_rope_dim, c.v_head_dim, c.kv_lora_rank, scale_,
                       absorb_decode};
    be.mla_attention(o, q, latent, cache.pages, cache.batch, kv_b_, args);
    be.kv_store(cache.pages, cache.batch, latent, latent);  // no values: only the latent is kept
    be.linear(out, o, o_);
  }

  /// Decode (single-token chunks) uses the absorbed form; tests switch it off to compare.
  inline static bool absorb_decode = true;
  float softmax_scale() const { return scale_; }

 private:
  cfg::LayerPlan plan_;
  float scale_;
  WeightView<Space> q_a_, q_b_, kv_a_, kv_b_, o_;
  VectorView<const float, Space> q_a_norm_, kv_a_norm_;
};

}  // namespace templlm::layers
