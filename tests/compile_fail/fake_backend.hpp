// SPDX-License-Identifier: Apache-2.0
// The least a backend type must name for a MoE block's members to be declared (the compile-fail
// snippets fail before any op is needed).
#pragma once
#include <vector>

#include <templlm/core/tensor.hpp>

struct FakeBackend {
  using space = templlm::Host;
  template <class T>
  using Buffer = std::vector<T>;
  struct Experts {};
};
