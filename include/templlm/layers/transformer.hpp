// SPDX-License-Identifier: Apache-2.0
/// \file layers/transformer.hpp
/// A whole decoder-only model on one backend: embedding, the decoder layers (a runtime loop,
/// never a template recursion), final norm and output head, and the paged KV pool all its
/// sequences share. forward() runs a batch of chunks of different sequences, each continuing its
/// own sequence: one step plan per forward, one attention call and one cache store per layer.
///
/// Thread safety: the weights (TransformerWeights) are read-only after construction and shared;
/// a Transformer is one caller's context on them (its backend's scratch, its workspace, its KV
/// pool), so one thread at a time calls a Transformer's forward() and sequence functions, and
/// several threads may each drive their own Transformer on the same weights.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../core/tensor_source.hpp"
#include "batch.hpp"
#include "decoder_layer.hpp"
#include "kv_pool.hpp"
#include "rope.hpp"
#include "workspace.hpp"

namespace templlm::layers {

/// True when every component type M uses has an implementation here, so Transformer<M, B>
/// compiles. Each new component type adds its `has_*` specialization next to its implementation.
template <class M>
constexpr bool runnable_description() {
  if constexpr (!has_attention<std::remove_cvref_t<decltype(M::attention)>>) return false;
  else if constexpr (!requires { rope_table(M::rope, 2); }) return false;
  else if constexpr (has_dense_layers<M>() &&
                     !std::is_same_v<std::remove_cvref_t<decltype(M::dense_ffn)>, cfg::SwiGlu>)
    return false;
  else if constexpr (has_moe_layers<M>())
    return has_router<std::remove_cvref_t<decltype(M::router)>> &&
           has_shared_expert<std::remove_cvref_t<decltype(M::shared)>> &&
           std::is_same_v<std::remove_cvref_t<decltype(M::expert)>, cfg::SwiGlu>;
  else return true;
}
template <class M>
inline constexpr bool runnable = runnable_description<M>();

/// The same question as runnable<M>, answered at compile time with a sentence naming the member
/// whose type has no implementation (Transformer, runtime::Model and load_model call it), so a
/// described-but-unimplemented component is a build error, never a run-time surprise.
template <class M>
constexpr bool check_runnable() {
  static_assert(has_attention<std::remove_cvref_t<decltype(M::attention)>>,
                "templlm: M::attention has a type with no Attention implementation: use cfg::Gqa or "
                "cfg::Mla, or specialize layers::Attention (and layers::has_attention) for it");
  static_assert(requires { rope_table(M::rope, 2); },
                "templlm: M::rope has a type with no rope_table(const T&, int dim) overload: use "
                "cfg::Rope, cfg::YarnRope or cfg::Llama3Rope, or declare one in T's namespace");
  if constexpr (has_dense_layers<M>())
    static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::dense_ffn)>, cfg::SwiGlu>,
                  "templlm: M::dense_ffn must be a cfg::SwiGlu: layer(i) plans dense FFN layers and "
                  "SwiGlu is the dense FFN this build implements");
  if constexpr (has_moe_layers<M>()) {
    static_assert(has_router<std::remove_cvref_t<decltype(M::router)>>,
                  "templlm: M::router has a type with no Router implementation: use cfg::TopK or "
                  "cfg::GroupedTopK, or specialize layers::Router (and layers::has_router) for it");
    static_assert(has_shared_expert<std::remove_cvref_t<decltype(M::shared)>>,
                  "templlm: M::shared has a type with no SharedExpert implementation: use "
                  "cfg::SharedExpert or cfg::NoSharedExpert, or specialize layers::SharedExpert "
                  "(and layers::has_shared_expert) for it");
    static_assert(std::is_same_v<std::remove_cvref_t<decltype(M::expert)>, cfg::SwiGlu>,
                  "templlm: M::expert must be a cfg::SwiGlu: layer(i) plans MoE layers and SwiGlu is "
                  "the routed-expert FFN this build implements");
  }
  return runnable<M>;
}

/// Everything a model reads and never writes: embedding, layers, final norm, output head, RoPE
/// tables. Made once through the loading backend (whose uploads must outlive it), shared
/// read-only by every context (Transformer) on it.
template <class M, class B>
class TransformerWeights {
 public:
  using Space = typename B::space;
  static constexpr std::int64_t hidden = M::dims.hidden, vocab = M::dims.vocab;

  TransformerWeights(B& be, const TensorSource& src) {
    const std::string p(M::prefix.model);
    embed = be.upload(src.get(p + "embed_tokens.weight", {vocab, hidden}));
    final_norm = be.upload_f32(src.get(p + "norm.weight", {hidden}));
    lm_head = M::tied_embeddings ? embed
                                 : be.upload(src.get(std::string(M::prefix.lm_head), {vocab, hidden}));
    rope = be.prepare_rope(rope_table(M::rope, M::attention.head_dim));
    layers.reserve(M::dims.layers);
    for (int i = 0; i < M::dims.layers; ++i) layers.emplace_back(be, src, i);
  }

  WeightView<Space> embed, lm_head;
  VectorView<const float, Space> final_norm;
  RopeView<Space> rope;
  std::vector<DecoderLayer<M, B>> layers;
};

template <class M, class B, KvElement CacheT = float>
class Transformer {
  static_assert(check_description<M>());
  static_assert(check_runnable<M>());
  static_assert(Backend<B>, "templlm: B does not satisfy the backend contract of core/backend.hpp");
  static_assert(BackendCache<B, CacheT>,
                "templlm: this backend has no KV cache of the requested element type (the fp32 cache "
                "is always there; bf16 is optional per backend, see docs/backends.md)");

 public:
  using Space = typename B::space;
  using Pool = KvPool<B, CacheT>;
  using Sequence = typename Pool::Sequence;
  using Chunk = layers::Chunk<Sequence>;
  static constexpr std::int64_t hidden = M::dims.hidden, vocab = M::dims.vocab;

  using Weights = TransformerWeights<M, B>;

  /// Loads the weights through `be` and makes the first context on them.
  Transformer(B& be, const TensorSource& src, KvPoolOptions kv = {})
      : Transformer(be, std::make_shared<const Weights>(be, src), kv) {}
  /// Another context on weights already loaded: `be` computes (its own scratch, thread pool or
  /// stream) on what the loading backend uploaded, which must outlive this context; the KV pool
  /// and workspace are this context's own.
  Transformer(B& be, std::shared_ptr<const Weights> weights, KvPoolOptions kv = {})
      : w_(std::move(weights)), be_(be), pool_(be, kv_specs(), kv) {
    if (!w_) throw InvalidInput("templlm: a Transformer context needs loaded weights");
  }

  /// The shared read-only half, for another context (Transformer(be, weights(), kv)).
  const std::shared_ptr<const Weights>& weights() const { return w_; }

  /// A new empty sequence of up to max_context tokens: no cache memory until tokens arrive.
  /// Sequences must not outlive the Transformer.
  std::unique_ptr<Sequence> new_sequence(std::int64_t max_context) { return pool_.new_sequence(max_context); }
  /// The KV pool: fork (share a prefix), truncate (roll back), page counts.
  Pool& kv_pool() { return pool_; }
  const Pool& kv_pool() const { return pool_; }

  /// Runs ids (packed rows of all chunks) through the model; returns logits [rows, vocab] for
  /// every row or each chunk's last row. Sequences advance by their chunk's length. `given`
  /// (optional): rows whose input is given embeddings instead of their token's.
  MatrixView<float, Space> forward(std::span<const int> ids, const std::vector<Chunk>& chunks,
                                   LogitRows which, ExpertTrace* trace = nullptr,
                                   const GivenEmbeddings<Space>* given = nullptr) {
    const std::int64_t t = static_cast<std::int64_t>(ids.size());
    validate(ids, chunks);
    if (given) validate(*given, t);
    for (const auto& ch : chunks) pool_.reserve(*ch.seq, ch.tokens);
    const StepPlan<Space> step = plan(chunks, t);

    auto x = be_.matrix(ws_.hidden, t, hidden);                              // (T,H)
    be_.embed(x, w_->embed, ids);
    if (given)
      for (std::size_t i = 0; i < given->rows.size(); ++i) be_.copy_row(x, given->rows[i], given->values, std::int64_t(i));
    if (trace) trace->layers.assign(w_->layers.size(), {});
    std::vector<int> routed;
    for (std::size_t i = 0; i < w_->layers.size(); ++i) {
      const LayerCache<CacheT, Space> cache{pool_.layer(i), step.groups[std::size_t(pool_.group_of(i))]};
      w_->layers[i].forward(be_, ws_, x, step, cache, w_->rope, trace ? &routed : nullptr);
      if (trace) record(trace->layers[i], routed, t);
    }
    for (const auto& ch : chunks) pool_.commit(*ch.seq, ch.tokens);

    MatrixView<float, Space> rows = x;
    if (which == LogitRows::last_of_each_chunk) {
      rows = be_.matrix(ws_.last_rows, std::int64_t(chunks.size()), hidden);
      for (std::size_t c = 0; c < chunks.size(); ++c)
        be_.copy_row(rows, std::int64_t(c), x, chunks[c].first_row + chunks[c].tokens - 1);
    }
    be_.rms_norm(rows, rows, w_->final_norm, M::norm.eps);
    auto logits = be_.matrix(ws_.logits, rows.rows, vocab);                  // (rows,V)
    be_.linear(logits, rows, w_->lm_head);
    return logits;
  }

  B& backend() { return be_; }

 private:
  /// What each layer keeps per position: its attention's widths, its plan's window.
  static std::vector<KvLayerSpec> kv_specs() {
    std::vector<KvLayerSpec> specs;
    for (int i = 0; i < M::dims.layers; ++i) {
      const cfg::LayerPlan plan = M::layer(i);
      specs.push_back({Attention<M, B>::cache_k_width, Attention<M, B>::cache_v_width, plan.mixer, plan.window});
    }
    return specs;
  }

  static void validate(const GivenEmbeddings<Space>& given, std::int64_t t) {
    if (given.values.cols != hidden || given.values.rows != std::int64_t(given.rows.size()))
      throw InvalidInput("templlm: given embeddings must be [rows, " + std::to_string(hidden) + "], one row per listed row");
    for (std::int64_t r : given.rows)
      if (r < 0 || r >= t)
        throw InvalidInput("templlm: a given embedding's row " + std::to_string(r) + " is outside the step's " +
                           std::to_string(t) + " rows");
  }

  void validate(std::span<const int> ids, const std::vector<Chunk>& chunks) const {
    std::int64_t covered = 0;
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      const auto& ch = chunks[c];
      if (ch.seq == nullptr || ch.first_row != covered || ch.tokens <= 0)
        throw InvalidInput("templlm: chunks must cover the packed ids in order, each non-empty with a sequence");
      for (std::size_t d = 0; d < c; ++d)
        if (chunks[d].seq == ch.seq)
          throw InvalidInput("templlm: a sequence appears twice in one step");
      if (ch.tokens > ch.seq->remaining())
        throw InvalidInput("templlm: context exhausted: the sequence holds " +
                           std::to_string(ch.seq->length()) + " tokens, " + std::to_string(ch.tokens) +
                           " more would exceed its " + std::to_string(ch.seq->max_context()) +
                           "-token context");
      covered += ch.tokens;
    }
    if (covered != std::int64_t(ids.size())) throw InvalidInput("templlm: chunks do not cover all ids");
    for (int id : ids)
      if (id < 0 || id >= vocab)
        throw InvalidInput("templlm: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");
  }

  /// The step plan: positions, chunks and per-group page tables, uploaded once.
  StepPlan<Space> plan(const std::vector<Chunk>& chunks, std::int64_t t) {
    const std::size_t groups = pool_.groups();
    ws_.positions.resize(std::size_t(t));
    ws_.row_chunk.resize(std::size_t(t));
    ws_.chunks.clear();
    ws_.pages.resize(groups);
    ws_.offsets.resize(groups);
    while (ws_.device_pages.size() < groups) ws_.device_pages.emplace_back();
    while (ws_.device_offsets.size() < groups) ws_.device_offsets.emplace_back();
    std::int64_t max_tokens = 0, max_length = 0;
    for (std::size_t g = 0; g < groups; ++g) {
      ws_.pages[g].clear();
      ws_.offsets[g].clear();
    }
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      const auto& ch = chunks[c];
      const std::int64_t start = ch.seq->length();
      ws_.chunks.push_back({ch.first_row, ch.tokens, start});
      for (std::int64_t i = 0; i < ch.tokens; ++i) {
        ws_.positions[std::size_t(ch.first_row + i)] = int(start + i);
        ws_.row_chunk[std::size_t(ch.first_row + i)] = int(c);
      }
      max_tokens = std::max(max_tokens, ch.tokens);
      max_length = std::max(max_length, start + ch.tokens);
      for (std::size_t g = 0; g < groups; ++g) {
        const auto table = pool_.table(*ch.seq, g);
        ws_.offsets[g].push_back(std::int64_t(ws_.pages[g].size()));
        ws_.pages[g].insert(ws_.pages[g].end(), table.begin(), table.end());
      }
    }
    be_.copy_from_host(ws_.device_positions, std::span<const int>(ws_.positions));
    be_.copy_from_host(ws_.device_row_chunk, std::span<const int>(ws_.row_chunk));
    be_.copy_from_host(ws_.device_chunks, std::span<const StepChunk>(ws_.chunks));
    StepPlan<Space> step;
    step.positions = {std::span<const int>(ws_.positions), ws_.device_positions.data()};
    for (std::size_t g = 0; g < groups; ++g) {
      be_.copy_from_host(ws_.device_pages[g], std::span<const int>(ws_.pages[g]));
      be_.copy_from_host(ws_.device_offsets[g], std::span<const std::int64_t>(ws_.offsets[g]));
      KvBatch b;
      b.chunks = ws_.chunks;
      b.device_chunks = ws_.device_chunks.data();
      b.device_row_chunk = ws_.device_row_chunk.data();
      b.tables = {ws_.device_pages[g].data(), ws_.device_offsets[g].data(), pool_.page_shift()};
      b.rows = t;
      b.max_tokens = max_tokens;
      b.max_length = max_length;
      step.groups.push_back(b);
    }
    return step;
  }

  static void record(std::vector<std::vector<int>>& out, const std::vector<int>& ids, std::int64_t t) {
    out.assign(static_cast<std::size_t>(t), {});
    if (ids.empty()) return;
    const std::size_t k = ids.size() / std::size_t(t);
    for (std::size_t r = 0; r < std::size_t(t); ++r)
      out[r].assign(ids.begin() + std::ptrdiff_t(r * k), ids.begin() + std::ptrdiff_t((r + 1) * k));
  }

  std::shared_ptr<const Weights> w_;
  B& be_;
  Pool pool_;
  Workspace<B> ws_;
};

}  // namespace templlm::layers
