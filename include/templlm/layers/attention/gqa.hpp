// SPDX-License-Identifier: Apache-2.0
/// \file layers/attention/gqa.hpp
/// Grouped-query attention (cfg::Gqa): q/k/v projections (optional biases), optional per-head
/// q/k RMSNorm before RoPE (Qwen3) or weightless L2 norm after it (Llama 4), RoPE per the
/// layer's plan, causal / sliding / chunked masks, optional sinks, o projection.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "../../core/concepts.hpp"
#include "../../core/tensor_source.hpp"
#include "../batch.hpp"
#include "../rope.hpp"
#include "../workspace.hpp"
#include "attention.hpp"

namespace templlm::layers {

template <>
inline constexpr bool has_attention<cfg::Gqa> = true;

template <class M, class B>
class Attention<M, B, cfg::Gqa> {
 public:
  static constexpr cfg::Gqa c = M::attention;
  static_assert(c.heads % c.kv_heads == 0, "templlm: Gqa.heads must be a multiple of kv_heads");
  static_assert(c.head_dim % 2 == 0, "templlm: Gqa.head_dim must be even for RoPE");
  using Space = typename B::space;
  static constexpr std::int64_t q_width = std::int64_t(c.heads) * c.head_dim;
  static constexpr std::int64_t kv_width = std::int64_t(c.kv_heads) * c.head_dim;

  /// Elements per position this layer's cache holds for keys and for values.
  static constexpr std::int64_t cache_k_width = kv_width, cache_v_width = kv_width;

  /// prefix: "model.layers.N.self_attn."
  Attention(B& be, const TensorSource& src, const std::string& prefix, cfg::LayerPlan plan)
      : plan_(plan) {
    const std::int64_t h = M::dims.hidden;
    q_proj_ = be.upload(src.get(prefix + "q_proj.weight", {q_width, h}));
    k_proj_ = be.upload(src.get(prefix + "k_proj.weight", {kv_width, h}));
    v_proj_ = be.upload(src.get(prefix + "v_proj.weight", {kv_width, h}));
    o_proj_ = be.upload(src.get(prefix + "o_proj.weight", {h, q_width}));
    if constexpr (c.qkv_bias) {
      q_bias_ = be.upload(src.get(prefix + "q_proj.bias", {q_width}));
      k_bias_ = be.upload(src.get(prefix + "k_proj.bias", {kv_width}));
      v_bias_ = be.upload(src.get(prefix + "v_proj.bias", {kv_width}));
    }
    if constexpr (c.o_bias) o_bias_ = be.upload(src.get(prefix + "o_proj.bias", {h}));
    if constexpr (c.qk_norm == cfg::QkNorm::rms) {
      q_norm_ = be.upload_f32(src.get(prefix + "q_norm.weight", {std::int64_t{c.head_dim}}));
      k_norm_ = be.upload_f32(src.get(prefix + "k_norm.weight", {std::int64_t{c.head_dim}}));
    }
    if constexpr (c.sinks) sinks_ = be.upload_f32(src.get(prefix + "sinks", {std::int64_t{c.heads}}));
  }

  /// out [T, H] = attention over x [T, H] (already normed) for the whole step; stores the step's
  /// keys and values in the layer's pages.
  template <class T>
  void forward(B& be, Workspace<B>& ws, MatrixView<float, Space> out, MatrixView<const float, Space> x,
               const StepPlan<Space>& step, const LayerCache<T, Space>& cache,
               const RopeView<Space>& rope) const {
    const std::int64_t t = x.rows;
    auto q = be.matrix(ws.q, t, q_width);                                   // (T, nh*D)
    auto k = be.matrix(ws.k, t, kv_width);                                  // (T, nkv*D)
    auto v = be.matrix(ws.v, t, kv_width);                                  // (T, nkv*D)
    auto o = be.matrix(ws.attn, t, q_width);                                // (T, nh*D)
    be.linear(q, x, q_proj_, q_bias_);
    be.linear(k, x, k_proj_, k_bias_);
    be.linear(v, x, v_proj_, v_bias_);
    if constexpr (c.qk_norm == cfg::QkNorm::rms) {  // Qwen3: per head, before RoPE
      be.rms_norm(q.split_rows(c.head_dim), q.split_rows(c.head_dim), q_norm_, M::norm.eps);
      be.rms_norm(k.split_rows(c.head_dim), k.split_rows(c.head_dim), k_norm_, M::norm.eps);
    }
    if (plan_.mixer != cfg::Mixer::no_rope) {
      be.rope(q, c.heads, c.head_dim, step.positions, rope);
      be.rope(k, c.kv_heads, c.head_dim, step.positions, rope);
      if constexpr (c.qk_norm == cfg::QkNorm::l2) {  // Llama 4: weightless, after RoPE
        be.rms_norm(q.split_rows(c.head_dim), q.split_rows(c.head_dim), {}, M::norm.eps);
        be.rms_norm(k.split_rows(c.head_dim), k.split_rows(c.head_dim), {}, M::norm.eps);
      }
    } else if constexpr (c.temperature.floor_scale > 0.0f) {  // Llama 4: NoPE layers only
      be.scale_rows_by_position(q, step.positions, c.temperature.floor_scale, c.temperature.attn_scale);
    }
    const AttentionArgs args{c.heads, c.kv_heads, c.head_dim, c.head_dim,
                             float(1.0 / std::sqrt(double(c.head_dim))), plan_.mixer, plan_.window,
                             sinks_.data};
    be.attention(o, q, k, v, cache.pages, cache.batch, args);
    be.kv_store(cache.pages, cache.batch, k, v);
    be.linear(out, o, o_proj_, o_bias_);
  }

 private:
  cfg::LayerPlan plan_;
  WeightView<Space> q_proj_, k_proj_, v_proj_, o_proj_, q_bias_, k_bias_, v_bias_, o_bias_;
  VectorView<const float, Space> q_norm_, k_norm_, sinks_;
};

}  // namespace templlm::layers
