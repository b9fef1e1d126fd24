// SPDX-License-Identifier: Apache-2.0
/// \file core/numeric.hpp
/// Exact conversions between the storage formats of the checkpoints and fp32: bf16, f16,
/// FP8 e4m3fn, MXFP4 (e2m1 values with e8m0 scales). Written once, constexpr and host/device,
/// so the CPU and CUDA backends decode weights with the same code and the CPU tests cover both.
#pragma once
#include <cstdint>

#include "macros.hpp"

namespace templlm {

TEMPLLM_HOST_DEVICE constexpr float bits_to_f32(std::uint32_t u) { return __builtin_bit_cast(float, u); }
TEMPLLM_HOST_DEVICE constexpr std::uint32_t f32_to_bits(float f) {
  return __builtin_bit_cast(std::uint32_t, f);
}

/// bf16 is the top half of an fp32: the conversion to fp32 is exact.
TEMPLLM_HOST_DEVICE constexpr float bf16_to_f32(std::uint16_t h) {
  return bits_to_f32(std::uint32_t(h) << 16);
}

/// fp32 -> bf16, round to nearest even (what torch's `.to(torch.bfloat16)` does); NaN stays NaN.
TEMPLLM_HOST_DEVICE constexpr std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x40);  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return std::uint16_t((u + rounding) >> 16);
}

/// IEEE half -> fp32, exact (subnormals included).
TEMPLLM_HOST_DEVICE constexpr float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    int e = -1;  // normalise the subnormal
    do { mant <<= 1; ++e; } while ((mant & 0x400u) == 0);
    return bits_to_f32(sign | std::uint32_t(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13);
  }
  return bits_to_f32(sign | (exp + 127 - 15) << 23 | mant << 13);
}

/// FP8 e4m3fn (bias 7, no infinities, 0x7f/0xff = NaN) -> fp32, exact.
TEMPLLM_HOST_DEVICE constexpr float fp8_e4m3fn_to_f32(std::uint8_t v) {
  const std::uint32_t sign = std::uint32_t(v & 0x80u) << 24;
  const std::uint32_t exp = (v >> 3) & 0xfu;
  std::uint32_t mant = v & 0x7u;
  if (exp == 0xf && mant == 0x7) return bits_to_f32(sign | 0x7fc00000u);
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    int e = -1;
    do { mant <<= 1; ++e; } while ((mant & 0x8u) == 0);
    return bits_to_f32(sign | std::uint32_t(127 - 7 - e) << 23 | (mant & 0x7u) << 20);
  }
  return bits_to_f32(sign | (exp + 127 - 7) << 23 | mant << 20);
}

/// FP4 e2m1 nibble (bit 3 = sign) -> fp32: {0, .5, 1, 1.5, 2, 3, 4, 6} and their negatives.
/// Built from the bits rather than looked up: on the GPU a lookup table sits in local memory,
/// one L1 load per nibble in the MXFP4 GEMV.
TEMPLLM_HOST_DEVICE constexpr float fp4_e2m1_to_f32(std::uint8_t nibble) {
  const std::uint32_t sign = std::uint32_t(nibble & 0x8u) << 28;
  const std::uint32_t exp = (nibble >> 1) & 0x3u, mant = nibble & 0x1u;
  if (exp == 0) return bits_to_f32(sign | (mant != 0 ? 0x3f000000u : 0u));  // +-0 or +-0.5
  return bits_to_f32(sign | (exp + 126u) << 23 | mant << 22);               // (1 + m/2) 2^(e-1)
}

/// E8M0 scale (a bare biased exponent) -> fp32 2^(v-127); 0xff is NaN by the OCP MX spec.
/// v = 0 is 2^-127, a subnormal fp32, still exact.
TEMPLLM_HOST_DEVICE constexpr float e8m0_to_f32(std::uint8_t v) {
  if (v == 0xff) return bits_to_f32(0x7fc00000u);
  if (v == 0) return bits_to_f32(0x00400000u);
  return bits_to_f32(std::uint32_t(v) << 23);
}

/// One MXFP4 value: the nibble's e2m1 value times its group's e8m0 scale. Exact in fp32 because
/// e2m1 has at most two significant bits.
TEMPLLM_HOST_DEVICE constexpr float mxfp4_to_f32(std::uint8_t nibble, std::uint8_t scale) {
  return fp4_e2m1_to_f32(nibble) * e8m0_to_f32(scale);
}

}  // namespace templlm
