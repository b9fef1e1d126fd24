// SPDX-License-Identifier: Apache-2.0
/// \file runtime/model.hpp
/// A loaded model behind a small virtual interface (the outermost runtime boundary): the
/// checkpoint's files, the typed Transformer<M, B>, and single-sequence helpers for scoring a
/// prompt in one prefill or token by token through the KV cache.
///
/// Thread safety (as llama.cpp's llama_model / llama_context): an AnyModel is one caller's
/// context — its backend's scratch and thread pool, its workspace, its KV pool and sequences —
/// on weights and files shared read-only. One thread at a time uses an AnyModel; for another
/// thread, new_context() makes another AnyModel on the same weights (no second copy), and the
/// two may run at the same time, each computing exactly what it computes alone.
#pragma once
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>
#include <memory>
#include <span>
#include <atomic>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../io/unread_tensors.hpp"
#include "../io/weight_source.hpp"
#include "../io/weight_store.hpp"
#include "../core/vision_backend.hpp"
#include "../layers/transformer.hpp"
#include "../layers/vision/llama4_vision.hpp"
#include "../vision/image_prompt.hpp"
#include "../vision/llama4_image_input.hpp"
#include "sampler.hpp"

namespace templlm::runtime {

/// One sequence's state for the batched step API: its pages of the model's KV pool. A sequence
/// must not outlive its model.
class Sequence {
 public:
  virtual ~Sequence() = default;
  virtual std::int64_t length() const = 0;       // tokens already in the cache
  virtual std::int64_t max_context() const = 0;  // tokens the sequence may hold
};

/// How much of the KV pool is in use (pages are allocated as sequences grow).
struct KvUsage {
  std::int64_t pages_in_use = 0, pages_allocated = 0, page_size = 0, bytes_allocated = 0;
};

/// Rows whose input is given instead of their token's embedding (an image's features at its
/// <|patch|> tokens): row rows[i] of the ids gets values row i ([rows.size(), hidden], host).
struct HostEmbeddings {
  std::span<const std::int64_t> rows;
  std::span<const float> values;
  bool empty() const { return rows.empty(); }
};

/// One sequence's part of a batched step: `ids` continue `seq` (a prefill or one decode token);
/// `given` rows (relative to ids) take given embeddings.
struct Step {
  Sequence* seq;
  std::span<const int> ids;
  HostEmbeddings given = {};
};

class AnyModel {
 public:
  virtual ~AnyModel() = default;
  virtual std::string_view name() const = 0;
  virtual std::int64_t vocab() const = 0;
  /// Logits [T, vocab] for every position of `ids`, row-major. decode = feed the tokens one at
  /// a time through the KV cache instead of one prefill. trace (optional) gets the experts.
  virtual std::vector<float> score(std::span<const int> ids, bool decode,
                                   layers::ExpertTrace* trace = nullptr, HostEmbeddings given = {}) = 0;
  /// Whether image_prompt() works: the description has a vision tower and the backend its ops.
  virtual bool sees_images() const { return false; }
  /// The text that stands for an image in a rendered prompt (Llama 4: "<|image|>"); empty when
  /// the model takes no images.
  virtual std::string image_placeholder() const { return {}; }
  /// `ids` (a rendered prompt with the model's image placeholder where each image goes) with
  /// each placeholder replaced by its image's tokens, and the images' features for them (give
  /// them to score() or as a Step's `given`). Throws Unsupported for a model without images.
  virtual vision::ImagePrompt image_prompt(std::span<const int> /*ids*/, std::span<const io::Image> /*images*/,
                                           const tokenizer::Tokenizer& /*tok*/) {
    throw Unsupported("templlm: " + std::string(name()) + " takes no images (its description has no vision tower)");
  }
  /// A fresh sequence of up to max_context tokens for step(); allocates no cache memory yet.
  virtual std::unique_ptr<Sequence> new_sequence(std::int64_t /*max_context*/) {
    throw Unsupported("templlm: this model does not implement batched stepping");
  }
  /// A sequence sharing every cached token of `parent` (copy on write): a shared prefix. Its
  /// context is the parent's, or max_context when that is given.
  virtual std::unique_ptr<Sequence> fork(const Sequence& /*parent*/, std::int64_t /*max_context*/ = 0) {
    throw Unsupported("templlm: this model does not implement sequence sharing");
  }
  /// Rolls `seq` back to its first n tokens.
  virtual void truncate(Sequence& /*seq*/, std::int64_t /*n*/) {
    throw Unsupported("templlm: this model does not implement truncation");
  }
  virtual KvUsage kv_usage() const { return {}; }
  /// The most positions the model supports (config.json's max_position_embeddings, set by
  /// load_model); 0 when not known. The Engine refuses a prompt or context beyond it.
  std::int64_t context_limit() const { return context_limit_; }
  void set_context_limit(std::int64_t n) {
    if (n < 0) throw InvalidInput("templlm: a context limit must be >= 0 (0 = not known)");
    context_limit_ = n;
  }
  /// Another context on the same weights for another thread: its own backend (same device and
  /// settings), KV pool and workspace. It keeps the weights and files alive; the backend this
  /// model was loaded on must outlive it (as it must outlive this model).
  virtual std::unique_ptr<AnyModel> new_context() {
    throw Unsupported("templlm: this model does not make contexts for other threads");
  }
  /// Keeps `owner` alive as long as the model (the backend a loader made for it): the base is
  /// destroyed after the derived model, so its weights go before the backend holding them.
  void keep_alive(std::shared_ptr<void> owner) { owners_.push_back(std::move(owner)); }
  /// What `other` keeps alive, kept alive by this one too (a context of the same model).
  void keep_alive_as(const AnyModel& other) {
    owners_.insert(owners_.end(), other.owners_.begin(), other.owners_.end());
  }
  /// One forward over several sequences (each step's ids continue its own sequence; prefills
  /// and decodes mix freely). Writes the logits of each step's last token, row s of
  /// `logits` ([steps.size(), vocab], row-major). Sequences advance by their ids.
  virtual void step(std::span<const Step> /*steps*/, std::span<float> /*logits*/) {
    throw Unsupported("templlm: this model does not implement batched stepping");
  }
  /// step(), then ids[s] = the token a runtime::Sampler picks from step s's logits for rows[s].
  /// This default copies the logits to the host and samples there; a model whose backend
  /// samples on the device overrides it and copies only the ids back.
  virtual void step_sample(std::span<const Step> steps, std::span<const SampleRequest> rows,
                           std::span<int> ids) {
    if (rows.size() != steps.size() || ids.size() < steps.size())
      throw InvalidInput("templlm: step_sample: one sampling request and one id per step");
    const auto v = std::size_t(vocab());
    if (sample_logits_.size() < steps.size() * v) sample_logits_.resize(steps.size() * v);
    step(steps, sample_logits_);
    for (std::size_t s = 0; s < steps.size(); ++s)
      ids[s] = sampler_.sample(std::span<const float>(sample_logits_).subspan(s * v, v), rows[s].history,
                               rows[s].params, rows[s].draw);
  }

 private:
  std::vector<float> sample_logits_;  // the default step_sample's scratch (grows only)
  Sampler sampler_;
  std::vector<std::shared_ptr<void>> owners_;
  std::int64_t context_limit_ = 0;
};

template <class M, class B, KvElement CacheT = float>
class Model final : public AnyModel {
  static_assert(check_description<M>());   // a sentence per wrong member, not a concept dump
  static_assert(layers::check_runnable<M>());

 public:
  using Net = layers::Transformer<M, B, CacheT>;
  /// Whether images are encoded: the description has a vision tower and the backend its ops.
  static constexpr bool has_tower = layers::describes_vision<M>() && VisionBackend<B>;

 private:
  struct NoTower {};
  template <bool, class = void>
  struct TowerOf {
    using type = NoTower;
    using input = NoTower;
  };
  template <class Unused>
  struct TowerOf<true, Unused> {
    using type = layers::VisionTower<M, B>;
    using input = vision::ImageInput<std::remove_cvref_t<decltype(M::vision)>>;
  };
  using Tower = typename TowerOf<has_tower>::type;
  using Input = typename TowerOf<has_tower>::input;
  /// The tower and its image side (processor settings, prompt layout), shared by every context.
  struct Vision {
    Tower tower;
    Input input;
  };
  using VisionOrNone = std::conditional_t<has_tower, Vision, NoTower>;

 public:

  Model(B& be, io::WeightStore store, layers::KvPoolOptions kv = {})
      : files_(std::make_shared<const Files>(std::move(store))), net_(be, files_->source, kv), kv_(kv) {
    if constexpr (has_tower) {
      auto v = std::make_shared<Vision>(Vision{Tower(be, files_->source), Input(M::vision)});
      v->input.configure(files_->store.dir());
      tower_ = std::move(v);
    }
    check_unread_tensors();
  }

  std::string_view name() const override { return M::name; }
  std::int64_t vocab() const override { return M::dims.vocab; }
  Net& net() { return net_; }

  std::vector<float> score(std::span<const int> ids, bool decode,
                           layers::ExpertTrace* trace = nullptr, HostEmbeddings given = {}) override {
    const auto t = static_cast<std::int64_t>(ids.size());
    if (t == 0) throw InvalidInput("templlm: no token ids given");
    check_given(given, t);
    auto cache = net_.new_sequence(t);
    std::vector<float> out(static_cast<std::size_t>(t * M::dims.vocab));
    auto& be = net_.backend();
    if (!decode) {
      const auto g = upload(given, 0, t);
      auto logits = net_.forward(ids, {{cache.get(), 0, t}}, layers::LogitRows::all, trace, g ? &*g : nullptr);
      be.copy_to_host(std::span<float>(out), MatrixView<const float, typename B::space>(logits));
      return out;
    }
    if (trace) trace->layers.clear();
    layers::ExpertTrace step;
    for (std::int64_t i = 0; i < t; ++i) {
      const auto g = upload(given, i, 1);
      auto logits = net_.forward(ids.subspan(std::size_t(i), 1), {{cache.get(), 0, 1}},
                                 layers::LogitRows::all, trace ? &step : nullptr, g ? &*g : nullptr);
      be.copy_to_host(std::span<float>(out).subspan(std::size_t(i * M::dims.vocab)),
                      MatrixView<const float, typename B::space>(logits));
      if (trace) {
        trace->layers.resize(step.layers.size());
        for (std::size_t l = 0; l < step.layers.size(); ++l)
          trace->layers[l].push_back(step.layers[l].at(0));
      }
    }
    return out;
  }

  std::unique_ptr<Sequence> new_sequence(std::int64_t max_context) override {
    return std::make_unique<Seq>(this, net_.new_sequence(max_context));
  }
  std::unique_ptr<Sequence> fork(const Sequence& parent, std::int64_t max_context = 0) override {
    return std::make_unique<Seq>(this, net_.kv_pool().fork(*own(parent).cache, max_context));
  }
  void truncate(Sequence& seq, std::int64_t n) override { net_.kv_pool().truncate(*own(seq).cache, n); }
  std::unique_ptr<AnyModel> new_context() override {
    if constexpr (ContextBackend<B>) {
      std::unique_ptr<Model> ctx(new Model(net_.backend().new_context(), files_, net_.weights(), tower_, kv_));
      ctx->keep_alive_as(*this);
      ctx->set_context_limit(context_limit());  // the same model: the same context
      return ctx;
    } else {
      return AnyModel::new_context();
    }
  }
  KvUsage kv_usage() const override {
    const auto& pool = net_.kv_pool();
    KvUsage u{pool.pages_in_use(), 0, pool.page_size(), pool.bytes()};
    for (std::size_t g = 0; g < pool.groups(); ++g) u.pages_allocated += pool.pages_allocated(g);
    return u;
  }

  bool sees_images() const override { return has_tower; }
  std::string image_placeholder() const override {
    if constexpr (has_tower) return std::string(Input::placeholder);
    else return {};
  }
  /// The vision tower's features of processed tiles ([tiles, C, S, S], the image processor's
  /// pixel_values): [tiles * tokens per tile, hidden], host. For tests and callers that
  /// preprocess themselves.
  std::vector<float> encode_tiles(std::span<const float> pixels, int tiles, layers::VisionStages* stages = nullptr)
    requires(has_tower)
  {
    auto& be = net_.backend();
    auto f = tower_->tower.encode(be, vision_ws_, pixels, tiles, stages);
    std::vector<float> out(std::size_t(f.rows * f.cols));
    be.copy_to_host(std::span<float>(out), MatrixView<const float, typename B::space>(f));
    return out;
  }
  vision::ImagePrompt image_prompt(std::span<const int> ids, std::span<const io::Image> images,
                                   const tokenizer::Tokenizer& tok) override {
    if constexpr (has_tower) {
      return tower_->input.prompt(ids, images, tok, M::dims.hidden, [&](std::span<const float> pixels, int tiles) {
        return encode_tiles(pixels, tiles);
      });
    } else if constexpr (layers::describes_vision<M>()) {
      throw Unsupported("templlm: the " + std::string(B::name()) + " backend has no vision ops (core/vision_backend.hpp) " +
                        "(the cpu and cuda backends have them): " + std::string(M::name) + " takes no images on it");
    } else {
      return AnyModel::image_prompt(ids, images, tok);
    }
  }

  void step(std::span<const Step> steps, std::span<float> logits) override {
    if (steps.empty()) return;
    if (std::int64_t(logits.size()) < std::int64_t(steps.size()) * M::dims.vocab)
      throw InvalidInput("templlm: step: the logits buffer is too small");
    auto out = forward_steps(steps);
    net_.backend().copy_to_host(logits, MatrixView<const float, typename B::space>(out));
  }

  /// On a backend with a sample op, the logits stay on the device and only the ids come back.
  void step_sample(std::span<const Step> steps, std::span<const SampleRequest> rows,
                   std::span<int> ids) override {
    if constexpr (backend_samples) {
      if (rows.size() != steps.size() || ids.size() < steps.size())
        throw InvalidInput("templlm: step_sample: one sampling request and one id per step");
      if (steps.empty()) return;
      auto out = forward_steps(steps);
      net_.backend().sample(ids.first(steps.size()), MatrixView<const float, typename B::space>(out), rows);
    } else {
      AnyModel::step_sample(steps, rows, ids);
    }
  }

 private:
  static constexpr bool backend_samples = SamplingBackend<B>;


  /// One forward over the steps' ids; the logits of each step's last token, one row per step.
  auto forward_steps(std::span<const Step> steps) {
    packed_.clear();
    chunks_.clear();
    given_rows_.clear();
    given_values_.clear();
    for (const auto& s : steps) {
      if (!s.seq) throw InvalidInput("templlm: step: no sequence");
      Seq& seq = own(*s.seq);
      if (s.ids.empty()) throw InvalidInput("templlm: step: a sequence with no ids");
      check_given(s.given, std::int64_t(s.ids.size()));
      for (std::int64_t r : s.given.rows) given_rows_.push_back(std::int64_t(packed_.size()) + r);
      given_values_.insert(given_values_.end(), s.given.values.begin(), s.given.values.end());
      chunks_.push_back({seq.cache.get(), std::int64_t(packed_.size()), std::int64_t(s.ids.size())});
      packed_.insert(packed_.end(), s.ids.begin(), s.ids.end());
    }
    const auto g = upload({given_rows_, given_values_}, 0, std::int64_t(packed_.size()));
    return net_.forward(packed_, chunks_, layers::LogitRows::last_of_each_chunk, nullptr, g ? &*g : nullptr);
  }

  static void check_given(const HostEmbeddings& g, std::int64_t rows) {
    if (g.values.size() != g.rows.size() * std::size_t(M::dims.hidden))
      throw InvalidInput("templlm: given embeddings: " + std::to_string(g.values.size()) + " values for " +
                         std::to_string(g.rows.size()) + " rows of " + std::to_string(M::dims.hidden));
    for (std::int64_t r : g.rows)
      if (r < 0 || r >= rows)
        throw InvalidInput("templlm: a given embedding's row " + std::to_string(r) + " is outside the step's " +
                           std::to_string(rows) + " ids");
  }
  /// The given rows in [first, first + count), rebased to first, in backend memory (none: empty).
  std::optional<layers::GivenEmbeddings<typename B::space>> upload(HostEmbeddings g, std::int64_t first,
                                                                   std::int64_t count) {
    if (g.empty()) return std::nullopt;
    const std::int64_t h = M::dims.hidden;
    upload_rows_.clear();
    upload_values_.clear();
    for (std::size_t i = 0; i < g.rows.size(); ++i)
      if (g.rows[i] >= first && g.rows[i] < first + count) {
        upload_rows_.push_back(g.rows[i] - first);
        upload_values_.insert(upload_values_.end(), g.values.begin() + std::ptrdiff_t(i * std::size_t(h)),
                              g.values.begin() + std::ptrdiff_t((i + 1) * std::size_t(h)));
      }
    if (upload_rows_.empty()) return std::nullopt;
    auto& be = net_.backend();
    be.copy_from_host(given_buffer_, std::span<const float>(upload_values_));
    auto values = be.matrix(given_buffer_, std::int64_t(upload_rows_.size()), h);
    return layers::GivenEmbeddings<typename B::space>{upload_rows_, MatrixView<const float, typename B::space>(values)};
  }

  struct Seq final : Sequence {
    Seq(const Model* m, std::unique_ptr<typename Net::Sequence> c) : owner(m), cache(std::move(c)) {}
    std::int64_t length() const override { return cache->length(); }
    std::int64_t max_context() const override { return cache->max_context(); }
    const Model* owner;  // its pages are in this context's pool
    std::unique_ptr<typename Net::Sequence> cache;
  };
  Seq& own(Sequence& s) const {
    auto* seq = dynamic_cast<Seq*>(&s);
    if (!seq || seq->owner != this)
      throw InvalidInput("templlm: a sequence from another model or context (its pages are in that one's KV pool)");
    return *seq;
  }
  const Seq& own(const Sequence& s) const { return own(const_cast<Sequence&>(s)); }
  std::vector<int> packed_;                    // grows only: no allocation per decode step
  std::vector<typename Net::Chunk> chunks_;
  std::vector<std::int64_t> given_rows_, upload_rows_;
  std::vector<float> given_values_, upload_values_;
  typename B::template Buffer<float> given_buffer_;
  /// Every tensor of the checkpoint must have been read by a component, or be excused by an
  /// entry of M::skipped_tensors (UnusedTensors otherwise). An excused entry with `note` set
  /// has its reason printed to stderr, once per process and description (also when several
  /// threads load at once).
  void check_unread_tensors() const {
    constexpr auto skipped = io::skipped_tensors_of<M>();
    std::vector<std::string> unread = files_->source.unread();
    if constexpr (layers::describes_vision<M>() && !has_tower) {
      // A backend without the vision ops (an out-of-tree one; ours have them) loads the text model;
      // images are refused (image_prompt).
      static std::atomic<bool> told{false};
      const auto tower_tensor = [](const std::string& n) {
        return n.rfind("vision_model.", 0) == 0 || n.rfind("multi_modal_projector.", 0) == 0;
      };
      if (std::any_of(unread.begin(), unread.end(), tower_tensor) && !told.exchange(true))
        std::cerr << "templlm: note: the " << B::name() << " backend has no vision ops; " << M::name
                  << "'s vision tower is not loaded and images are refused\n";
      std::erase_if(unread, tower_tensor);
    }
    io::refuse_unread(io::unexcused(unread, skipped), M::name, files_->store.dir());
    static std::atomic<bool> noted{false};
    for (const std::string& n : unread)
      if (const auto* s = io::skip_entry(n, skipped); s && s->note) {
        if (!noted.exchange(true)) std::cerr << "templlm: note: " << s->reason << "\n";
        break;
      }
  }

  /// The checkpoint's mapped files and the reader the weights were loaded through: shared by
  /// every context, read-only once loaded.
  struct Files {
    explicit Files(io::WeightStore s) : store(std::move(s)), source(store) {}
    io::WeightStore store;
    io::WeightSource source;
  };
  /// A context on loaded weights (new_context): it owns its backend.
  Model(std::unique_ptr<B> be, std::shared_ptr<const Files> files,
        std::shared_ptr<const typename Net::Weights> weights, std::shared_ptr<const VisionOrNone> tower,
        layers::KvPoolOptions kv)
      : files_(std::move(files)), own_backend_(std::move(be)), net_(*own_backend_, std::move(weights), kv),
        kv_(kv), tower_(std::move(tower)) {}

  std::shared_ptr<const Files> files_;
  std::unique_ptr<B> own_backend_;  // a context's backend; empty for the loading one
  Net net_;
  layers::KvPoolOptions kv_;
  std::shared_ptr<const VisionOrNone> tower_;  // the vision tower and its input, read-only, shared
  std::conditional_t<has_tower, layers::VisionWorkspace<B>, NoTower> vision_ws_;
};

}  // namespace templlm::runtime
