// SPDX-License-Identifier: Apache-2.0
/// \file core/math.hpp
/// Per-element math shared by the CPU and CUDA backends: activations, RoPE rotation, RMS scale,
/// router scores. One definition, host and device, tested on the CPU. These call expf & co, so
/// they are constant-evaluable only where no transcendental is reached; they are constexpr to
/// keep the one-definition promise for the pure ones.
#pragma once
#include <cmath>

#include "macros.hpp"

namespace templlm::math {

TEMPLLM_HOST_DEVICE inline float sigmoid(float x) { return 1.0f / (1.0f + ::expf(-x)); }

/// SiLU as torch computes it: x * sigmoid(x).
TEMPLLM_HOST_DEVICE inline float silu(float x) { return x / (1.0f + ::expf(-x)); }

/// GELU as torch's nn.GELU() (approximate="none"): x * 0.5 * (1 + erf(x / sqrt(2))).
TEMPLLM_HOST_DEVICE inline float gelu(float x) { return x * 0.5f * (1.0f + ::erff(x * 0.70710678118654752f)); }

/// SwiGLU element: silu(gate) * up.
TEMPLLM_HOST_DEVICE inline float swiglu(float gate, float up) { return silu(gate) * up; }

/// GPT-OSS's clamped GLU element (HF GptOssExperts): gate clamped above only, up to +-limit,
/// (up + 1) * gate * sigmoid(alpha * gate).
TEMPLLM_HOST_DEVICE inline float clamped_swiglu(float gate, float up, float limit, float alpha) {
  gate = gate > limit ? limit : gate;
  up = up > limit ? limit : (up < -limit ? -limit : up);
  const float glu = gate * sigmoid(alpha * gate);
  return (up + 1.0f) * glu;
}

/// rsqrt(mean + eps) as HF's RMSNorm: torch.rsqrt(variance + eps).
TEMPLLM_HOST_DEVICE inline float rms_scale(float mean_square, float eps) {
  return 1.0f / ::sqrtf(mean_square + eps);
}

/// LayerNorm's element: (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps) (biased variance),
/// in torch's order of operations.
TEMPLLM_HOST_DEVICE inline float layer_norm_rstd(float variance, float eps) { return 1.0f / ::sqrtf(variance + eps); }
TEMPLLM_HOST_DEVICE constexpr float layer_norm(float x, float mean, float rstd, float w, float b) {
  return (x - mean) * rstd * w + b;
}

/// One RoPE rotation of the pair (a, b) by the angle with cosine c and sine s:
/// a' = a c - b s, b' = b c + a s. Used for both layouts; they differ only in which dims pair up.
struct Rotated {
  float a, b;
};
TEMPLLM_HOST_DEVICE constexpr Rotated rotate(float a, float b, float c, float s) {
  return {a * c - b * s, b * c + a * s};
}

/// The angle HF uses: fp32 inv_freq times fp32 position, one rounding (not computed in double).
TEMPLLM_HOST_DEVICE constexpr float rope_angle(float inv_freq, int position) {
  return inv_freq * static_cast<float>(position);
}

/// Llama 4's attention temperature tuning on NoPE layers, the factor for a query at `position`:
/// log1p(floor((p + 1) / floor_scale)) * attn_scale + 1 (float, as HF computes it).
TEMPLLM_HOST_DEVICE inline float attention_temperature(int position, float floor_scale,
                                                       float attn_scale) {
  return ::log1pf(::floorf((float(position) + 1.0f) / floor_scale)) * attn_scale + 1.0f;
}

/// DeepSeek-V3's group score: the sum of the two largest of the group's `n` (>= 2) biased
/// scores (HF: scores.view(groups, -1).topk(2).sum(-1)).
TEMPLLM_HOST_DEVICE constexpr float top2_sum(const float* c, int n) {
  float best = c[0] > c[1] ? c[0] : c[1], second = c[0] > c[1] ? c[1] : c[0];
  for (int i = 2; i < n; ++i) {
    if (c[i] > best) {
      second = best;
      best = c[i];
    } else if (c[i] > second) {
      second = c[i];
    }
  }
  return best + second;
}

/// The chosen experts' weights, in place: renormalised to sum 1 when asked (HF adds 1e-20 to the
/// denominator), then times the routed scaling factor. Summed in slot order on both backends.
TEMPLLM_HOST_DEVICE constexpr void finish_routing_weights(float* w, int k, bool renormalize,
                                                          float routed_scale) {
  float sum = 0.0f;
  for (int i = 0; i < k; ++i) sum += w[i];
  for (int i = 0; i < k; ++i) {
    if (renormalize) w[i] /= (sum + 1e-20f);
    w[i] *= routed_scale;
  }
}

}  // namespace templlm::math
