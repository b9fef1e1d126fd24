// SPDX-License-Identifier: Apache-2.0
/// \file layers/transformer.hpp
/// A whole decoder-only model on one backend: embedding, the decoder layers (a runtime loop,
/// never a template recursion), final norm and output head. forward() runs a batch of chunks of
/// different sequences, each continuing its own cache.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../core/tensor_source.hpp"
#include "batch.hpp"
#include "decoder_layer.hpp"
#include "kv_cache.hpp"
#include "rope.hpp"
#include "workspace.hpp"

namespace templlm::layers {

/// True when every component type M uses has an implementation here, so Transformer<M, B>
/// compiles. Each new component type adds its `has_*` specialization next to its implementation.
template <class M>
constexpr bool runnable_description() {
  if constexpr (!has_attention<std::remove_cvref_t<decltype(M::attention)>>) return false;
  else if constexpr (has_moe_layers<M>()) return has_router<std::remove_cvref_t<decltype(M::router)>>;
  else return true;
}
template <class M>
inline constexpr bool runnable = runnable_description<M>();

template <class M, class B>
class Transformer {
 public:
  using Space = typename B::space;
  using Cache = SequenceCache<B>;
  static constexpr std::int64_t hidden = M::dims.hidden, vocab = M::dims.vocab;

  Transformer(B& be, const TensorSource& src) : be_(be) {
    const std::string p(M::prefix.model);
    embed_ = be.upload(src.get(p + "embed_tokens.weight", {vocab, hidden}));
    final_norm_ = be.upload_f32(src.get(p + "norm.weight", {hidden}));
    lm_head_ = M::tied_embeddings ? embed_
                                  : be.upload(src.get(std::string(M::prefix.lm_head), {vocab, hidden}));
    rope_ = rope_table(M::rope, M::attention.head_dim);
    layers_.reserve(M::dims.layers);
    for (int i = 0; i < M::dims.layers; ++i) layers_.emplace_back(be, src, i);
  }

  /// A fresh cache for one sequence of up to max_context tokens.
  std::unique_ptr<Cache> make_cache(std::int64_t max_context) const {
    std::vector<typename Cache::LayerShape> shapes;
    for (const auto& l : layers_) {
      const auto plan = l.plan();
      const bool ring = plan.mixer == cfg::Mixer::sliding || plan.mixer == cfg::Mixer::chunked;
      shapes.push_back({Attention<M, B>::cache_k_width, Attention<M, B>::cache_v_width,
                        ring ? plan.window : 0});
    }
    return std::make_unique<Cache>(be_, shapes, max_context);
  }

  /// Runs ids (packed rows of all chunks) through the model; returns logits [rows, vocab] for
  /// every row or each chunk's last row. Caches advance by their chunk's length.
  MatrixView<float, Space> forward(std::span<const int> ids, const std::vector<Chunk<B>>& chunks,
                                   LogitRows which, ExpertTrace* trace = nullptr) {
    const std::int64_t t = static_cast<std::int64_t>(ids.size());
    std::int64_t covered = 0;
    ws_.positions.resize(static_cast<std::size_t>(t));
    for (const auto& ch : chunks) {
      if (ch.first_row != covered || ch.tokens <= 0)
        throw InvalidInput("templlm: chunks must cover the packed ids in order, each non-empty");
      if (ch.tokens > ch.cache->remaining())
        throw InvalidInput("templlm: context exhausted: the sequence holds " +
                           std::to_string(ch.cache->length()) + " tokens, " +
                           std::to_string(ch.tokens) + " more would exceed its " +
                           std::to_string(ch.cache->max_context()) + "-token cache");
      for (std::int64_t i = 0; i < ch.tokens; ++i)
        ws_.positions[std::size_t(ch.first_row + i)] = int(ch.start() + i);
      covered += ch.tokens;
    }
    if (covered != t) throw InvalidInput("templlm: chunks do not cover all ids");
    for (int id : ids)
      if (id < 0 || id >= vocab)
        throw InvalidInput("templlm: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");

    auto x = be_.matrix(ws_.hidden, t, hidden);                              // (T,H)
    be_.embed(x, embed_, ids);
    if (trace) trace->layers.assign(layers_.size(), {});
    std::vector<int> routed;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].forward(be_, ws_, x, chunks, rope_, trace ? &routed : nullptr);
      if (trace) record(trace->layers[i], routed, t);
    }
    for (const auto& ch : chunks) ch.cache->advance(ch.tokens);

    MatrixView<float, Space> rows = x;
    if (which == LogitRows::last_of_each_chunk) {
      rows = be_.matrix(ws_.last_rows, std::int64_t(chunks.size()), hidden);
      for (std::size_t c = 0; c < chunks.size(); ++c)
        be_.copy_row(rows, std::int64_t(c), x, chunks[c].first_row + chunks[c].tokens - 1);
    }
    be_.rms_norm(rows, rows, final_norm_, M::norm.eps);
    auto logits = be_.matrix(ws_.logits, rows.rows, vocab);                  // (rows,V)
    be_.linear(logits, rows, lm_head_);
    return logits;
  }

  B& backend() { return be_; }

 private:
  static void record(std::vector<std::vector<int>>& out, const std::vector<int>& ids, std::int64_t t) {
    out.assign(static_cast<std::size_t>(t), {});
    if (ids.empty()) return;
    const std::size_t k = ids.size() / std::size_t(t);
    for (std::size_t r = 0; r < std::size_t(t); ++r)
      out[r].assign(ids.begin() + std::ptrdiff_t(r * k), ids.begin() + std::ptrdiff_t((r + 1) * k));
  }

  B& be_;
  WeightView<Space> embed_, lm_head_;
  const float* final_norm_ = nullptr;
  RopeTable rope_;
  std::vector<DecoderLayer<M, B>> layers_;
  Workspace<B> ws_;
};

}  // namespace templlm::layers
