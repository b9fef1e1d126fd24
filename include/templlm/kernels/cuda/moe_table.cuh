// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/moe_table.cuh
/// A layer's routed experts as the MoE kernels read them: one device array of weight
/// descriptors, built once per expert list by the backend (backend.cuh's expert_table).
#pragma once
#include <cstdint>
#include <optional>

#include "decode.cuh"
#include "gemv.cuh"

namespace templlm::gpu {

/// One expert's weights as the expert kernels read them (biases: data == nullptr when absent).
struct ExpertDeviceWeights {
  DeviceWeight gate, up, down, gate_bias, up_bias, down_bias;
  friend bool operator==(const ExpertDeviceWeights&, const ExpertDeviceWeights&) = default;
};

/// The device-resident form of a layer's expert list.
struct ExpertTable {
  const ExpertDeviceWeights* experts;  // device array [E]
  int count;
  WeightPath path;                     // how the grouped GEMM reads gate, up and down of every expert
  std::int64_t hidden, intermediate;
  std::optional<GemvFormat> gemv = {};  // the GEMV's reading of all of them, when it has one
};

}  // namespace templlm::gpu
