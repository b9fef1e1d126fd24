// SPDX-License-Identifier: Apache-2.0
/// \file runtime/registry.hpp
/// From a checkpoint directory to a compiled-in description: a fold over a TypeList of
/// descriptions (no architecture switch). A description matches when config.json's architecture
/// is its hf_architecture and every field it pins agrees; a same-architecture near miss is a
/// ConfigMismatch listing each differing field.
#pragma once
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "../core/type_list.hpp"
#include "../io/hf_config.hpp"
#include "../model/params.hpp"
#include "model.hpp"

namespace templlm::runtime {

/// Static facts about a description, for `templlm models` and `info`.
struct DescriptionInfo {
  std::string name, hf_architecture;
  model::ParamCount params;
  bool runnable;  // every component has a CPU implementation in this build
};

template <class M>
DescriptionInfo describe() {
  static_assert(check_description<M>());
  return {std::string(M::name), std::string(M::hf_architecture), model::param_count<M>(),
          layers::runnable<M>};
}

template <class... Ms>
std::vector<DescriptionInfo> describe_all(TypeList<Ms...>) {
  return {describe<Ms>()...};
}

/// Calls f.template operator()<M>() for the description matching the config; throws
/// ConfigMismatch (same architecture, differing fields) or Unsupported (unknown architecture).
template <class... Ms, class F>
void with_matching_description(TypeList<Ms...> list, const io::HfConfig& config,
                               std::string_view where, F&& f) {
  bool done = false;
  std::string known, closest_name;
  std::vector<io::FieldDiff> closest;
  std::size_t best = std::numeric_limits<std::size_t>::max();
  for_each_type(list, [&]<class M>() {
    known += "\n  " + std::string(M::name) + " (" + std::string(M::hf_architecture) + ")";
    if (done || config.architecture() != M::hf_architecture) return;
    const auto fields = M::hf_fields();
    auto diffs = config.diff(fields);
    if (diffs.empty()) {
      done = true;
      f.template operator()<M>();
    } else if (diffs.size() < best) {
      best = diffs.size();
      closest = std::move(diffs);
      closest_name = M::name;
    }
  });
  if (done) return;
  if (!closest_name.empty()) {
    std::string msg = "templlm: " + std::string(where) + " is a " + config.architecture() +
                      " checkpoint, but no compiled-in description matches it; closest is '" +
                      closest_name + "', which differs in:";
    for (const auto& d : closest)
      msg += "\n  " + d.key + ": expected " + d.expected + ", found " + d.found;
    throw ConfigMismatch(msg);
  }
  throw Unsupported("templlm: " + std::string(where) + " has architecture '" +
                    config.architecture() + "', which this build does not know. Compiled in:" + known);
}

/// Loads the model in `dir` on backend `be`, choosing among the descriptions in `list`.
template <class B, class... Ms>
std::unique_ptr<AnyModel> load_model(TypeList<Ms...> list, B& be, const std::filesystem::path& dir,
                                     std::function<void(std::uint64_t, std::uint64_t)> progress = {}) {
  const auto config = io::HfConfig::load(dir);
  std::unique_ptr<AnyModel> out;
  // Every description in the list must be runnable: one whose component has no implementation
  // fails to compile here, naming the member (layers::check_runnable), rather than at run time.
  static_assert((check_description<Ms>() && ...));
  static_assert((layers::check_runnable<Ms>() && ...));
  with_matching_description(list, config, dir.string(), [&]<class M>() {
    config.check(M::hf_fields(), M::name);
    out = std::make_unique<Model<M, B>>(be, io::WeightStore::open(dir, progress));
    out->set_context_limit(config.context_limit());
  });
  return out;
}

}  // namespace templlm::runtime
