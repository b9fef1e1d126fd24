// SPDX-License-Identifier: Apache-2.0
/// \file runtime/model.hpp
/// A loaded model behind a small virtual interface (the outermost runtime boundary): the
/// checkpoint's files, the typed Transformer<M, B>, and single-sequence helpers for scoring a
/// prompt in one prefill or token by token through the KV cache.
#pragma once
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../io/weight_source.hpp"
#include "../io/weight_store.hpp"
#include "../layers/transformer.hpp"

namespace templlm::runtime {

class AnyModel {
 public:
  virtual ~AnyModel() = default;
  virtual std::string_view name() const = 0;
  virtual std::int64_t vocab() const = 0;
  /// Logits [T, vocab] for every position of `ids`, row-major. decode = feed the tokens one at
  /// a time through the KV cache instead of one prefill. trace (optional) gets the experts.
  virtual std::vector<float> score(std::span<const int> ids, bool decode,
                                   layers::ExpertTrace* trace = nullptr) = 0;
};

template <ModelDescription M, class B>
class Model final : public AnyModel {
 public:
  using Net = layers::Transformer<M, B>;

  Model(B& be, io::WeightStore store)
      : store_(std::move(store)), source_(store_), net_(be, source_) {}

  std::string_view name() const override { return M::name; }
  std::int64_t vocab() const override { return M::dims.vocab; }
  Net& net() { return net_; }

  std::vector<float> score(std::span<const int> ids, bool decode,
                           layers::ExpertTrace* trace = nullptr) override {
    const auto t = static_cast<std::int64_t>(ids.size());
    if (t == 0) throw InvalidInput("templlm: no token ids given");
    auto cache = net_.make_cache(t);
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

 private:
  io::WeightStore store_;
  io::WeightSource source_;
  Net net_;
};

}  // namespace templlm::runtime
