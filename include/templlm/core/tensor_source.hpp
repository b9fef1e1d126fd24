// SPDX-License-Identifier: Apache-2.0
/// \file core/tensor_source.hpp
/// Where layers get their weights from: a name -> tensor lookup with shape checking. io/ provides
/// the checkpoint-backed implementation; tests can provide in-memory ones.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "tensor.hpp"

namespace templlm {

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  /// The tensor `name`, which must have exactly `shape`; throws TensorMismatch otherwise.
  virtual WeightView<Host> get(std::string_view name,
                               std::initializer_list<std::int64_t> shape) const = 0;
  virtual bool contains(std::string_view name) const = 0;
};

}  // namespace templlm
