// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/llama4_vision.hpp
/// Llama 4's vision tower and projector (cfg::Llama4Vision; HF Llama4VisionModel +
/// Llama4MultiModalProjector): pixel tiles -> patch embeddings, class token appended, learned
/// positions, LayerNorm, the encoder layers, LayerNorm, class token dropped, pixel shuffle, the
/// adapter MLP (GELU after fc1 and after fc2), the projection into the text model's width. The
/// result replaces the embeddings of the prompt's image tokens, one row per token, tiles in
/// order. Reads "vision_model." and "multi_modal_projector." tensors. The image side (files ->
/// tiles -> prompt layout) is vision::ImageInput<cfg::Llama4Vision> (vision/llama4_image_input.hpp).
///
/// Thread safety: the weights and tables are read-only after construction and may be shared by
/// every context; encode() uses the caller's backend and workspace.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../../core/host_decode.hpp"
#include "../../core/tensor_source.hpp"
#include "../../core/vision_backend.hpp"
#include "encoder_layer.hpp"
#include "patch_embedding.hpp"
#include "pixel_shuffle.hpp"
#include "vision_rope.hpp"
#include "vision_tower.hpp"
#include "vision_workspace.hpp"

namespace templlm::layers {

template <>
inline constexpr bool has_vision_tower<cfg::Llama4Vision> = true;

/// Host copies of the tower's intermediate results, for tests against transformers.
struct VisionStages {
  std::vector<float> encoder;  // [tiles * (patches + 1), hidden], after layernorm_post
  std::vector<float> adapter;  // [tiles * tokens, projector_output], vision_model's output
};

template <class M, class B>
class VisionTower<M, B, cfg::Llama4Vision> {
 public:
  static constexpr cfg::Llama4Vision c = M::vision;
  using Space = typename B::space;
  static_assert(VisionBackend<B>, "templlm: this backend lacks the vision ops of core/vision_backend.hpp");
  static_assert(c.image_size % c.patch_size == 0, "templlm: Llama4Vision.image_size must be a multiple of patch_size");
  static_assert(c.hidden % c.heads == 0 && (c.hidden / c.heads) % 4 == 0,
                "templlm: Llama4Vision: head_dim (hidden / heads) must be a multiple of 4 for the 2-D RoPE");
  static constexpr int grid = c.image_size / c.patch_size;
  static constexpr std::int64_t tile_rows = std::int64_t(grid) * grid + 1;  // patches + class token
  static constexpr int shuffle = int(1.0f / c.pixel_shuffle_ratio + 0.5f);
  static_assert(grid % shuffle == 0, "templlm: Llama4Vision: the pixel shuffle must divide the patch grid");
  static_assert(std::int64_t(c.hidden) * shuffle * shuffle == c.intermediate,
                "templlm: Llama4Vision: the adapter's input (intermediate) must be hidden / ratio^2");
  static_assert(c.projector_output == c.vision_output,
                "templlm: Llama4Vision: the projector reads the adapter's output (vision_output == projector_output)");
  static constexpr int tokens_per_tile = (grid / shuffle) * (grid / shuffle);
  static constexpr std::int64_t patch_width = std::int64_t(c.channels) * c.patch_size * c.patch_size;
  static constexpr std::int64_t text_hidden = M::dims.hidden;

  VisionTower(B& be, const TensorSource& src) {
    const std::string p = "vision_model.";
    const std::int64_t h = c.hidden;
    patch_ = be.upload(src.get(p + "patch_embedding.linear.weight", {h, patch_width}));
    // The tile table: positions, with the class embedding added on the class row (HF adds the
    // positions to [patches, class]; the class rows of the patch linear are 0).
    const WeightView<Host> pos = src.get(p + "positional_embedding_vlm", {tile_rows, h});
    const std::vector<float> cls = decode_host_row(src.get(p + "class_embedding", {h}), 0);
    std::vector<float> table;
    table.reserve(std::size_t(tile_rows * h));
    for (std::int64_t r = 0; r < tile_rows; ++r) {
      const std::vector<float> row = decode_host_row(pos, r);
      for (std::int64_t j = 0; j < h; ++j) table.push_back(r == tile_rows - 1 ? cls[std::size_t(j)] + row[std::size_t(j)] : row[std::size_t(j)]);
    }
    tile_table_ = matrix_of(be.own(table), tile_rows, h);
    rope_ = matrix_of(be.own(vision_rope_table(grid, c.hidden / c.heads, c.rope_theta)), tile_rows, c.hidden / c.heads);
    pre_w_ = be.upload_f32(src.get(p + "layernorm_pre.weight", {h}));
    pre_b_ = be.upload_f32(src.get(p + "layernorm_pre.bias", {h}));
    post_w_ = be.upload_f32(src.get(p + "layernorm_post.weight", {h}));
    post_b_ = be.upload_f32(src.get(p + "layernorm_post.bias", {h}));
    layers_.reserve(std::size_t(c.layers));
    for (int i = 0; i < c.layers; ++i)
      layers_.emplace_back(be, src, p + "model.layers." + std::to_string(i) + ".",
                           typename VisionEncoderLayer<B>::Dims{h, c.intermediate, c.heads, c.norm_eps});
    fc1_ = be.upload(src.get(p + "vision_adapter.mlp.fc1.weight", {c.projector_input, c.intermediate}));
    fc2_ = be.upload(src.get(p + "vision_adapter.mlp.fc2.weight", {c.projector_output, c.projector_output}));
    static_assert(c.projector_input == c.projector_output,
                  "templlm: Llama4Vision: the adapter's fc2 is [projector_output, projector_output] and reads fc1's output");
    projector_ = be.upload(src.get("multi_modal_projector.linear_1.weight", {text_hidden, c.vision_output}));
  }

  /// pixels: [tiles, channels, image_size, image_size] (the image processor's pixel_values).
  /// Returns [tiles * tokens_per_tile, text hidden] in ws.features.
  MatrixView<float, Space> encode(B& be, VisionWorkspace<B>& ws, std::span<const float> pixels, int tiles,
                                  VisionStages* stages = nullptr) const {
    check(tiles > 0, "templlm: encode: no image tiles");
    const std::int64_t n = tiles * tile_rows, h = c.hidden;
    unfold_patches(ws.host_patches, pixels, tiles, c.channels, c.image_size, c.patch_size);
    be.copy_from_host(ws.patches, std::span<const float>(ws.host_patches));
    auto patches = be.matrix(ws.patches, n, patch_width);
    auto x = be.matrix(ws.x, n, h);
    be.linear(x, patches, patch_);
    be.add_periodic_rows(x, tile_table_);
    be.layer_norm(x, x, pre_w_, pre_b_, c.norm_eps);
    for (const auto& layer : layers_) layer.forward(be, ws, x, tile_rows, rope_);
    be.layer_norm(x, x, post_w_, post_b_, c.norm_eps);
    if (stages) stages->encoder = to_host(be, x);
    // Pixel shuffle (class rows dropped) as a gather of hidden-wide blocks.
    ws.host_shuffle_rows = pixel_shuffle_rows(tiles, grid, c.pixel_shuffle_ratio);
    const std::int64_t tokens = std::int64_t(tiles) * tokens_per_tile;
    be.copy_from_host(ws.shuffle_rows, std::span<const int>(ws.host_shuffle_rows));
    auto rows = be.matrix(ws.shuffle_rows, std::int64_t(ws.host_shuffle_rows.size()), 1);
    auto blocks = be.matrix(ws.shuffled, std::int64_t(ws.host_shuffle_rows.size()), h);
    be.gather_rows(blocks, x, MatrixView<const int, Space>(rows));
    MatrixView<float, Space> shuffled(blocks.data, tokens, c.intermediate);
    auto inner = be.matrix(ws.adapter_inner, tokens, c.projector_input);
    be.linear(inner, shuffled, fc1_);
    be.gelu(inner);
    auto adapted = be.matrix(ws.adapter_out, tokens, c.projector_output);
    be.linear(adapted, inner, fc2_);
    be.gelu(adapted);
    if (stages) stages->adapter = to_host(be, adapted);
    auto features = be.matrix(ws.features, tokens, text_hidden);
    be.linear(features, adapted, projector_);
    return features;
  }

 private:
  static MatrixView<const float, Space> matrix_of(const WeightView<Space>& w, std::int64_t rows, std::int64_t cols) {
    return {reinterpret_cast<const float*>(w.data), rows, cols};
  }
  static std::vector<float> to_host(B& be, MatrixView<float, Space> m) {
    std::vector<float> out(std::size_t(m.rows * m.cols));
    be.copy_to_host(std::span<float>(out), MatrixView<const float, Space>(m));
    return out;
  }

  WeightView<Space> patch_, fc1_, fc2_, projector_;
  MatrixView<const float, Space> tile_table_, rope_;
  VectorView<const float, Space> pre_w_, pre_b_, post_w_, post_b_;
  std::vector<VisionEncoderLayer<B>> layers_;
};

}  // namespace templlm::layers
