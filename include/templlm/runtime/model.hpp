// SPDX-License-Identifier: Apache-2.0
/// \file runtime/model.hpp
/// A loaded model behind a small virtual interface (the outermost runtime boundary): the
/// checkpoint's files, the typed Transformer<M, B>, and single-sequence helpers for scoring a
/// prompt in one prefill or token by token through the KV cache.
#pragma once
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>
#include <atomic>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../io/unread_tensors.hpp"
#include "../io/weight_source.hpp"
#include "../io/weight_store.hpp"
#include "../layers/transformer.hpp"
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

/// One sequence's part of a batched step: `ids` continue `seq` (a prefill or one decode token).
struct Step {
  Sequence* seq;
  std::span<const int> ids;
};

class AnyModel {
 public:
  virtual ~AnyModel() = default;
  virtual std::string_view name() const = 0;
  virtual std::int64_t vocab() const = 0;
  /// Logits [T, vocab] for every position of `ids`, row-major. decode = feed the tokens one at
  /// a time through the KV cache instead of one prefill. trace (optional) gets the experts.
  virtual std::vector<float> score(std::span<const int> ids, bool decode,
                                   layers::ExpertTrace* trace = nullptr) = 0;
  /// A fresh sequence of up to max_context tokens for step(); allocates no cache memory yet.
  virtual std::unique_ptr<Sequence> new_sequence(std::int64_t /*max_context*/) {
    throw Unsupported("templlm: this model does not implement batched stepping");
  }
  /// A sequence sharing every cached token of `parent` (copy on write): a shared prefix.
  virtual std::unique_ptr<Sequence> fork(const Sequence& /*parent*/) {
    throw Unsupported("templlm: this model does not implement sequence sharing");
  }
  /// Rolls `seq` back to its first n tokens.
  virtual void truncate(Sequence& /*seq*/, std::int64_t /*n*/) {
    throw Unsupported("templlm: this model does not implement truncation");
  }
  virtual KvUsage kv_usage() const { return {}; }
  /// Keeps `owner` alive as long as the model (the backend a loader made for it): the base is
  /// destroyed after the derived model, so its weights go before the backend holding them.
  void keep_alive(std::shared_ptr<void> owner) { owners_.push_back(std::move(owner)); }
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
};

template <class M, class B, KvElement CacheT = float>
class Model final : public AnyModel {
  static_assert(check_description<M>());   // a sentence per wrong member, not a concept dump
  static_assert(layers::check_runnable<M>());

 public:
  using Net = layers::Transformer<M, B, CacheT>;

  Model(B& be, io::WeightStore store, layers::KvPoolOptions kv = {})
      : store_(std::move(store)), source_(store_), net_(be, source_, kv) {
    check_unread_tensors();
  }

  std::string_view name() const override { return M::name; }
  std::int64_t vocab() const override { return M::dims.vocab; }
  Net& net() { return net_; }

  std::vector<float> score(std::span<const int> ids, bool decode,
                           layers::ExpertTrace* trace = nullptr) override {
    const auto t = static_cast<std::int64_t>(ids.size());
    if (t == 0) throw InvalidInput("templlm: no token ids given");
    auto cache = net_.new_sequence(t);
    std::vector<float> out(static_cast<std::size_t>(t * M::dims.vocab));
    auto& be = net_.backend();
    if (!decode) {
      auto logits = net_.forward(ids, {{cache.get(), 0, t}}, layers::LogitRows::all, trace);
      be.copy_to_host(std::span<float>(out), MatrixView<const float, typename B::space>(logits));
      return out;
    }
    if (trace) trace->layers.clear();
    layers::ExpertTrace step;
    for (std::int64_t i = 0; i < t; ++i) {
      auto logits = net_.forward(ids.subspan(std::size_t(i), 1), {{cache.get(), 0, 1}},
                                 layers::LogitRows::all, trace ? &step : nullptr);
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
    return std::make_unique<Seq>(net_.new_sequence(max_context));
  }
  std::unique_ptr<Sequence> fork(const Sequence& parent) override {
    return std::make_unique<Seq>(net_.kv_pool().fork(*own(parent).cache));
  }
  void truncate(Sequence& seq, std::int64_t n) override { net_.kv_pool().truncate(*own(seq).cache, n); }
  KvUsage kv_usage() const override {
    const auto& pool = net_.kv_pool();
    KvUsage u{pool.pages_in_use(), 0, pool.page_size(), pool.bytes()};
    for (std::size_t g = 0; g < pool.groups(); ++g) u.pages_allocated += pool.pages_allocated(g);
    return u;
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
    for (const auto& s : steps) {
      if (!s.seq) throw InvalidInput("templlm: step: no sequence");
      Seq& seq = own(*s.seq);
      if (s.ids.empty()) throw InvalidInput("templlm: step: a sequence with no ids");
      chunks_.push_back({seq.cache.get(), std::int64_t(packed_.size()), std::int64_t(s.ids.size())});
      packed_.insert(packed_.end(), s.ids.begin(), s.ids.end());
    }
    return net_.forward(packed_, chunks_, layers::LogitRows::last_of_each_chunk);
  }

  struct Seq final : Sequence {
    explicit Seq(std::unique_ptr<typename Net::Sequence> c) : cache(std::move(c)) {}
    std::int64_t length() const override { return cache->length(); }
    std::int64_t max_context() const override { return cache->max_context(); }
    std::unique_ptr<typename Net::Sequence> cache;
  };
  static Seq& own(Sequence& s) {
    auto* seq = dynamic_cast<Seq*>(&s);
    if (!seq) throw InvalidInput("templlm: a sequence from another model");
    return *seq;
  }
  static const Seq& own(const Sequence& s) { return own(const_cast<Sequence&>(s)); }
  std::vector<int> packed_;                    // grows only: no allocation per decode step
  std::vector<typename Net::Chunk> chunks_;
  /// Every tensor of the checkpoint must have been read by a component, or be excused by an
  /// entry of M::skipped_tensors (UnusedTensors otherwise). An excused entry with `note` set
  /// has its reason printed to stderr, once per process and description (also when several
  /// threads load at once).
  void check_unread_tensors() const {
    constexpr auto skipped = io::skipped_tensors_of<M>();
    const std::vector<std::string> unread = source_.unread();
    io::refuse_unread(io::unexcused(unread, skipped), M::name, store_.dir());
    static std::atomic<bool> noted{false};
    for (const std::string& n : unread)
      if (const auto* s = io::skip_entry(n, skipped); s && s->note) {
        if (!noted.exchange(true)) std::cerr << "templlm: note: " << s->reason << "\n";
        break;
      }
  }

  io::WeightStore store_;
  io::WeightSource source_;
  Net net_;
};

}  // namespace templlm::runtime
