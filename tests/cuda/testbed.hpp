// SPDX-License-Identifier: Apache-2.0
/// \file tests/cuda/testbed.hpp
/// Running one op on both backends: random host data, host weights in f32/bf16/f16 that both
/// backends read from the same bytes, device copies, and the norm-wise relative error the
/// tolerances are stated in.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <templlm/core/numeric.hpp>
#include <templlm/core/tensor.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/kernels/cuda/backend.cuh>

namespace templlm::test {

/// fp32 results of the two backends agree to this, norm-wise (bf16 weights are decoded exactly).
inline constexpr double op_tolerance = 1e-5;

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// ||a - b|| / ||b||.
inline double relative_error(std::span<const float> a, std::span<const float> b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

/// fp32 -> f16 bits for a value f16 holds exactly in its normal range (or zero).
inline std::uint16_t exact_f16(float v) {
  const std::uint32_t u = f32_to_bits(v);
  const std::uint16_t sign = std::uint16_t((u >> 16) & 0x8000u);
  if ((u & 0x7fffffffu) == 0) return sign;
  const int exp = int((u >> 23) & 0xffu) - 127 + 15;
  return std::uint16_t(sign | std::uint16_t(exp << 10) | std::uint16_t((u >> 13) & 0x3ffu));
}

/// A weight held in host memory in one storage dtype, with its host view.
struct HostWeight {
  std::vector<std::byte> bytes;
  WeightView<Host> view;
};

inline HostWeight make_weight(DType dtype, std::vector<std::int64_t> shape, std::uint32_t seed,
                              float scale = 0.2f) {
  HostWeight w;
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  const auto values = random_floats(static_cast<std::size_t>(n), seed, scale);
  w.bytes.resize(static_cast<std::size_t>(n) * dtype_size(dtype));
  for (std::int64_t i = 0; i < n; ++i) {
    if (dtype == DType::f32) {
      reinterpret_cast<float*>(w.bytes.data())[i] = values[i];
    } else if (dtype == DType::bf16) {
      reinterpret_cast<std::uint16_t*>(w.bytes.data())[i] = f32_to_bf16(values[i]);
    } else {  // f16: multiples of 1/256 below 8 in magnitude are exact in f16
      reinterpret_cast<std::uint16_t*>(w.bytes.data())[i] = exact_f16(std::round(values[i] * 256) / 256);
    }
  }
  w.view.dtype = dtype;
  w.view.rank = static_cast<int>(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) w.view.shape[i] = shape[i];
  w.view.data = w.bytes.data();
  return w;
}

/// A host matrix and its device copy.
/// Positions in host and device memory (the step plan uploads them once per step).
struct PositionsTwin {
  std::vector<int> host;
  gpu::DeviceBuffer<int> device;
  PositionsTwin(gpu::Backend& be, std::vector<int> p) : host(std::move(p)) {
    be.copy_from_host(device, std::span<const int>(host));
  }
  Positions<Host> cpu() const { return {host, host.data()}; }
  Positions<Device> gpu() const { return {host, device.data()}; }
};

struct Twin {
  std::vector<float> host;
  gpu::DeviceBuffer<float> device;
  std::int64_t rows = 0, cols = 0;

  Twin(gpu::Backend& be, std::int64_t r, std::int64_t c, std::vector<float> values)
      : host(std::move(values)), rows(r), cols(c) {
    be.copy_from_host(device, std::span<const float>(host));
  }
  Twin(gpu::Backend& be, std::int64_t r, std::int64_t c, std::uint32_t seed, float scale = 1.0f)
      : Twin(be, r, c, random_floats(static_cast<std::size_t>(r * c), seed, scale)) {}

  MatrixView<float, Host> cpu() { return {host.data(), rows, cols}; }
  MatrixView<float, Device> gpu() { return {device.data(), rows, cols}; }
  /// The device contents, read back.
  std::vector<float> download(gpu::Backend& be) {
    std::vector<float> out(host.size());
    be.copy_to_host(std::span<float>(out), MatrixView<const float, Device>(gpu()));
    return out;
  }
  double error(gpu::Backend& be) {
    const auto got = download(be);
    return relative_error(got, host);
  }
};

}  // namespace templlm::test
