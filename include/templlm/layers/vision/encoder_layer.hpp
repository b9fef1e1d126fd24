// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/encoder_layer.hpp
/// One pre-norm ViT encoder layer (HF Llama4VisionEncoderLayer): h = x + o(attn(rope(q), rope(k),
/// v)) of LayerNorm(x), bidirectional within each tile; out = h + fc2(gelu(fc1(LayerNorm(h)))).
/// Every linear and LayerNorm has a bias. Weights read-only after construction.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "../../core/tensor_source.hpp"
#include "../../core/vision_backend.hpp"
#include "vision_workspace.hpp"

namespace templlm::layers {

template <class B>
class VisionEncoderLayer {
 public:
  using Space = typename B::space;
  struct Dims {
    std::int64_t hidden, intermediate;
    int heads;
    float eps;
  };

  /// prefix: "vision_model.model.layers.N."
  VisionEncoderLayer(B& be, const TensorSource& src, const std::string& prefix, Dims d) : d_(d) {
    const std::int64_t h = d.hidden, i = d.intermediate;
    auto vec = [&](const std::string& n, std::int64_t len) { return be.upload_f32(src.get(prefix + n, {len})); };
    auto lin = [&](const std::string& n, std::int64_t out, std::int64_t in, WeightView<Space>& w, WeightView<Space>& b) {
      w = be.upload(src.get(prefix + n + ".weight", {out, in}));
      b = be.upload(src.get(prefix + n + ".bias", {out}));
    };
    norm1_w_ = vec("input_layernorm.weight", h);
    norm1_b_ = vec("input_layernorm.bias", h);
    norm2_w_ = vec("post_attention_layernorm.weight", h);
    norm2_b_ = vec("post_attention_layernorm.bias", h);
    lin("self_attn.q_proj", h, h, q_, q_b_);
    lin("self_attn.k_proj", h, h, k_, k_b_);
    lin("self_attn.v_proj", h, h, v_, v_b_);
    lin("self_attn.o_proj", h, h, o_, o_b_);
    lin("mlp.fc1", i, h, fc1_, fc1_b_);
    lin("mlp.fc2", h, i, fc2_, fc2_b_);
  }

  /// x [tiles * tile_rows, hidden] in place; rope: [tile_rows, head_dim] (cos, sin) pairs.
  void forward(B& be, VisionWorkspace<B>& ws, MatrixView<float, Space> x, std::int64_t tile_rows,
               MatrixView<const float, Space> rope) const {
    const std::int64_t n = x.rows, h = d_.hidden;
    const int head_dim = int(h / d_.heads);
    auto normed = be.matrix(ws.normed, n, h);
    auto q = be.matrix(ws.q, n, h), k = be.matrix(ws.k, n, h), v = be.matrix(ws.v, n, h);
    auto attn = be.matrix(ws.attn, n, h), mixed = be.matrix(ws.mixed, n, h);
    be.layer_norm(normed, x, norm1_w_, norm1_b_, d_.eps);
    be.linear(q, normed, q_, q_b_);
    be.linear(k, normed, k_, k_b_);
    be.linear(v, normed, v_, v_b_);
    be.rotate_pairs(q, d_.heads, head_dim, rope);
    be.rotate_pairs(k, d_.heads, head_dim, rope);
    be.tile_attention(attn, q, k, v, {d_.heads, head_dim, tile_rows, 1.0f / std::sqrt(float(head_dim))});
    be.linear(mixed, attn, o_, o_b_);
    be.add(x, mixed);
    be.layer_norm(normed, x, norm2_w_, norm2_b_, d_.eps);
    auto inner = be.matrix(ws.inner, n, d_.intermediate);
    be.linear(inner, normed, fc1_, fc1_b_);
    be.gelu(inner);
    be.linear(mixed, inner, fc2_, fc2_b_);
    be.add(x, mixed);
  }

 private:
  Dims d_;
  VectorView<const float, Space> norm1_w_, norm1_b_, norm2_w_, norm2_b_;
  WeightView<Space> q_, q_b_, k_, k_b_, v_, v_b_, o_, o_b_, fc1_, fc1_b_, fc2_, fc2_b_;
};

}  // namespace templlm::layers
