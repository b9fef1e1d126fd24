// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/norm.hpp
/// RMSNorm over the rows of a matrix, as HF computes it in fp32:
/// y = w * (x * rsqrt(mean(x^2) + eps)); no weight for the weightless (L2) variant.
#pragma once
#include <cstdint>

#include "../../core/math.hpp"
#include "../../core/tensor.hpp"

namespace templlm::cpu {

/// `weight` holds cols fp32 values, or is null for the weightless norm. y may alias x.
inline void rms_norm(MatrixView<float> y, MatrixView<const float> x, const float* weight, float eps) {
  check(y.rows == x.rows && y.cols == x.cols, "templlm: rms_norm: shapes differ");
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const float* xr = x.row(r);
    float* yr = y.row(r);
    double sum = 0.0;
    for (std::int64_t c = 0; c < x.cols; ++c) sum += double(xr[c]) * xr[c];
    const float scale = math::rms_scale(float(sum / double(x.cols)), eps);
    if (weight) {
      for (std::int64_t c = 0; c < x.cols; ++c) yr[c] = weight[c] * (xr[c] * scale);
    } else {
      for (std::int64_t c = 0; c < x.cols; ++c) yr[c] = xr[c] * scale;
    }
  }
}

}  // namespace templlm::cpu
