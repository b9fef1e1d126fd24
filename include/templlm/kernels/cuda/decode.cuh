// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/decode.cuh
/// Reading stored weights as fp32 on the device, with the exact conversions of core/numeric.hpp:
/// every layout a WeightView describes (core/tensor.hpp): f32/bf16/f16/f8 elements, FP8 with
/// block scales, MXFP4 with e8m0 scales, row selections (row_base, row_step, ld) and transposed
/// storage, the same element for element as kernels/cpu/decode.hpp. Kernels receive a
/// DeviceWeight (a plain struct of the view's fields) and read logical element (r, c) with
/// weight_at<P>, where P picks a fast path for unquantised untransposed f32 and bf16 storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../core/dtype.hpp"
#include "../../core/error.hpp"
#include "../../core/numeric.hpp"
#include "../../core/tensor.hpp"

namespace templlm::gpu {

/// The fields of a WeightView<Device> that kernels read (passed by value, never by reference).
struct DeviceWeight {
  const std::byte* data = nullptr;
  const std::byte* scales = nullptr;
  std::int64_t stride = 0, row_base = 0, row_step = 1, scale_ld = 0;
  int block = 0;
  DType dtype = DType::f32;
  Quant quant = Quant::none;
  bool transposed = false;
  friend bool operator==(const DeviceWeight&, const DeviceWeight&) = default;
};

inline DeviceWeight device_weight(const WeightView<Device>& w) {
  return {w.data, w.scales, w.stride(), w.row_base, w.row_step, w.scale_ld, w.block, w.dtype, w.quant,
          w.transposed};
}

/// How a kernel reads a weight: straight from unquantised untransposed f32 or bf16 rows, or
/// through the general decoder (f16, f8 elements, quantised, transposed). Each path is one more
/// instantiation of every weight-reading kernel, so rarer storage shares the general one.
enum class WeightPath { f32, bf16, general };

inline WeightPath weight_path(const WeightView<Device>& w) {
  if (w.quant != Quant::none || w.transposed) return WeightPath::general;
  switch (w.dtype) {
    case DType::f32: return WeightPath::f32;
    case DType::bf16: return WeightPath::bf16;
    default: return WeightPath::general;
  }
}

namespace detail {

/// Element i of unquantised storage of dtype d.
__device__ __forceinline__ float load_element(const std::byte* base, DType d, std::int64_t i) {
  switch (d) {
    case DType::bf16: return bf16_to_f32(reinterpret_cast<const std::uint16_t*>(base)[i]);
    case DType::f16: return f16_to_f32(reinterpret_cast<const std::uint16_t*>(base)[i]);
    case DType::f8_e4m3: return fp8_e4m3fn_to_f32(static_cast<std::uint8_t>(base[i]));
    default: return reinterpret_cast<const float*>(base)[i];
  }
}

}  // namespace detail

/// Logical element (r, c) of w as fp32 (kernels/cpu/decode.hpp decode_rows, element by element).
template <WeightPath P>
__device__ __forceinline__ float weight_at(const DeviceWeight& w, std::int64_t r, std::int64_t c) {
  const std::int64_t prow = w.row_base + r * w.row_step;
  if constexpr (P == WeightPath::f32) {
    return reinterpret_cast<const float*>(w.data)[prow * w.stride + c];
  } else if constexpr (P == WeightPath::bf16) {
    return bf16_to_f32(reinterpret_cast<const std::uint16_t*>(w.data)[prow * w.stride + c]);
  } else {
    switch (w.quant) {
      case Quant::fp8_block: {
        const float scale =
            reinterpret_cast<const float*>(w.scales)[(prow / w.block) * w.scale_ld + c / w.block];
        return fp8_e4m3fn_to_f32(static_cast<std::uint8_t>(w.data[prow * w.stride + c])) * scale;
      }
      case Quant::mxfp4: {
        const auto byte = static_cast<std::uint8_t>(w.data[prow * (w.stride / 2) + c / 2]);
        const auto scale = static_cast<std::uint8_t>(w.scales[prow * w.scale_ld + c / 32]);
        return mxfp4_to_f32(c % 2 ? std::uint8_t(byte >> 4) : std::uint8_t(byte & 0x0f), scale);
      }
      default:
        return detail::load_element(w.data, w.dtype, w.transposed ? c * w.stride + prow : prow * w.stride + c);
    }
  }
}

/// The same with the path chosen at run time (vectors, embedding rows: not hot loops).
__device__ __forceinline__ float weight_at(const DeviceWeight& w, std::int64_t r, std::int64_t c) {
  return weight_at<WeightPath::general>(w, r, c);
}

namespace detail {

/// True for the storage the device decoders read.
inline bool device_decodable(const WeightView<Device>& w) {
  if (w.quant == Quant::fp8_block) return w.block > 0 && w.scales != nullptr;
  if (w.quant == Quant::mxfp4) return w.scales != nullptr;
  return w.dtype == DType::f32 || w.dtype == DType::bf16 || w.dtype == DType::f16 ||
         w.dtype == DType::f8_e4m3;
}

/// Throws Unsupported unless the device can compute with w.
inline void require_decodable(const WeightView<Device>& w, const char* op) {
  if (!device_decodable(w))
    throw Unsupported(std::string("templlm: the CUDA backend cannot compute ") + op + " with " +
                      std::string(dtype_name(w.dtype)) + " weights in this layout");
}

/// Calls f.template operator()<P>() with the read path of w.
template <class F>
void with_weight_path(const WeightView<Device>& w, const char* op, F&& f) {
  require_decodable(w, op);
  switch (weight_path(w)) {
    case WeightPath::f32: f.template operator()<WeightPath::f32>(); return;
    case WeightPath::bf16: f.template operator()<WeightPath::bf16>(); return;
    case WeightPath::general: f.template operator()<WeightPath::general>(); return;
  }
}

}  // namespace detail
}  // namespace templlm::gpu
