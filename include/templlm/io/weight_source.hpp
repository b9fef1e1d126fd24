// SPDX-License-Identifier: Apache-2.0
/// \file io/weight_source.hpp
/// The checkpoint-backed TensorSource: tensors of a WeightStore, shape-checked, seen as
/// WeightViews into the memory-mapped files (no copy). It remembers which tensors were read, so
/// the loader can refuse a checkpoint with tensors that no component asked for.
#pragma once
#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor_source.hpp"
#include "weight_store.hpp"

namespace templlm::io {

inline WeightView<Host> weight_view(const TensorInfo& t) {
  WeightView<Host> w;
  w.dtype = t.dtype;
  w.rank = static_cast<int>(t.shape.size());
  if (w.rank > 4) throw Unsupported("templlm: tensor '" + t.name + "' has rank > 4");
  for (int i = 0; i < w.rank; ++i) w.shape[i] = t.shape[i];
  w.data = t.bytes.data();
  return w;
}

class WeightSource final : public TensorSource {
 public:
  explicit WeightSource(const WeightStore& store) : store_(store) {}

  WeightView<Host> get(std::string_view name,
                       std::initializer_list<std::int64_t> shape) const override {
    const TensorInfo& t = store_.get(name);
    if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end()))
      throw TensorMismatch("templlm: tensor '" + t.name + "' in " + t.file + " has shape " +
                           shape_string(t.shape) + ", expected " +
                           shape_string(std::span<const std::int64_t>(shape.begin(), shape.size())));
    read_.insert(t.name);  // only a successful get counts: contains() alone reads nothing
    return weight_view(t);
  }
  bool contains(std::string_view name) const override { return store_.find(name) != nullptr; }

  /// The store's tensors no get() has returned yet, sorted.
  std::vector<std::string> unread() const {
    std::vector<std::string> out;
    for (std::string& n : store_.names())
      if (!read_.contains(n)) out.push_back(std::move(n));
    return out;
  }

 private:
  const WeightStore& store_;
  mutable std::set<std::string, std::less<>> read_;
};

}  // namespace templlm::io
