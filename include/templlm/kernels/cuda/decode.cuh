// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/decode.cuh
/// Reading stored weight elements (f32, bf16, f16) as fp32 on the device, with the shared exact
/// conversions of core/numeric.hpp, and the host-side dispatch from a runtime DType to the
/// kernel's compile-time one. Quantised formats (FP8 blocks, MXFP4) add their cases here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../core/dtype.hpp"
#include "../../core/error.hpp"
#include "../../core/numeric.hpp"

namespace templlm::gpu::detail {

/// Element i of a weight stored as D, in fp32 (exact for every D handled here).
template <DType D>
__device__ __forceinline__ float load_weight(const std::byte* base, std::int64_t i) {
  static_assert(D == DType::f32 || D == DType::bf16 || D == DType::f16,
                "templlm: load_weight: no device decoder for this dtype");
  if constexpr (D == DType::f32) {
    return reinterpret_cast<const float*>(base)[i];
  } else if constexpr (D == DType::bf16) {
    return bf16_to_f32(reinterpret_cast<const std::uint16_t*>(base)[i]);
  } else {
    return f16_to_f32(reinterpret_cast<const std::uint16_t*>(base)[i]);
  }
}

/// The same with the dtype known only at run time (biases, embedding rows: not hot loops).
__device__ __forceinline__ float load_weight(const std::byte* base, DType d, std::int64_t i) {
  switch (d) {
    case DType::bf16: return load_weight<DType::bf16>(base, i);
    case DType::f16: return load_weight<DType::f16>(base, i);
    default: return load_weight<DType::f32>(base, i);
  }
}

/// True for the dtypes the device decoders above read.
constexpr bool device_decodable(DType d) {
  return d == DType::f32 || d == DType::bf16 || d == DType::f16;
}

/// Throws Unsupported unless the device can compute with weights of dtype d.
inline void require_decodable(DType d, const char* op) {
  if (!device_decodable(d))
    throw Unsupported(std::string("templlm: the CUDA backend cannot compute ") + op + " with " +
                      std::string(dtype_name(d)) + " weights yet");
}

/// Calls f.template operator()<D>() with D == d, for the dtypes the device decodes.
template <class F>
void with_weight_dtype(DType d, const char* op, F&& f) {
  require_decodable(d, op);
  if (d == DType::bf16) {
    f.template operator()<DType::bf16>();
  } else if (d == DType::f16) {
    f.template operator()<DType::f16>();
  } else {
    f.template operator()<DType::f32>();
  }
}

}  // namespace templlm::gpu::detail
