// SPDX-License-Identifier: Apache-2.0
// Exhaustive checks of the storage-format conversions against their definitions, written
// independently with std::ldexp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <templlm/core/numeric.hpp>

namespace {

using namespace templlm;

TEST(Fp8E4m3fn, AllCodesMatchTheDefinition) {
  for (int code = 0; code < 256; ++code) {
    const int sign = code >> 7, exp = (code >> 3) & 0xf, mant = code & 7;
    const float got = fp8_e4m3fn_to_f32(std::uint8_t(code));
    if (exp == 15 && mant == 7) {
      EXPECT_TRUE(std::isnan(got)) << code;
      continue;
    }
    const double magnitude =
        exp == 0 ? std::ldexp(mant / 8.0, -6) : std::ldexp(1.0 + mant / 8.0, exp - 7);
    const double want = sign ? -magnitude : magnitude;
    EXPECT_EQ(got, float(want)) << "code " << code;
    EXPECT_EQ(std::signbit(got), bool(sign)) << "code " << code;
  }
  EXPECT_EQ(fp8_e4m3fn_to_f32(0x7e), 448.0f);  // the largest finite value
  EXPECT_EQ(fp8_e4m3fn_to_f32(0x01), std::ldexp(1.0f, -9));  // the smallest subnormal
}

TEST(Fp4E2m1, AllSixteenCodes) {
  const float want[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int code = 0; code < 16; ++code) {
    EXPECT_EQ(fp4_e2m1_to_f32(std::uint8_t(code)), want[code]) << code;
    EXPECT_EQ(std::signbit(fp4_e2m1_to_f32(std::uint8_t(code))), code >= 8) << code;
  }
}

TEST(E8m0, AllScales) {
  for (int v = 0; v < 255; ++v) EXPECT_EQ(e8m0_to_f32(std::uint8_t(v)), std::ldexp(1.0f, v - 127)) << v;
  EXPECT_TRUE(std::isnan(e8m0_to_f32(0xff)));
}

TEST(Mxfp4, EveryCodeTimesARangeOfScalesIsExact) {
  for (int scale = 0; scale < 255; ++scale)
    for (int code = 0; code < 16; ++code)
      EXPECT_EQ(mxfp4_to_f32(std::uint8_t(code), std::uint8_t(scale)),
                fp4_e2m1_to_f32(std::uint8_t(code)) * std::ldexp(1.0f, scale - 127));
}

TEST(Bf16, AllCodesRoundTripThroughFp32) {
  for (std::uint32_t code = 0; code < 65536; ++code) {
    const float f = bf16_to_f32(std::uint16_t(code));
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    EXPECT_EQ(bits, code << 16);
    if (!std::isnan(f)) {
      EXPECT_EQ(f32_to_bf16(f), code);
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0).
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.015625f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(F16, AllCodesMatchTheDefinition) {
  for (int code = 0; code < 65536; ++code) {
    const int sign = code >> 15, exp = (code >> 10) & 0x1f, mant = code & 0x3ff;
    const float got = f16_to_f32(std::uint16_t(code));
    if (exp == 31) {
      EXPECT_TRUE(mant ? std::isnan(got) : std::isinf(got)) << code;
      continue;
    }
    const double magnitude =
        exp == 0 ? std::ldexp(mant / 1024.0, -14) : std::ldexp(1.0 + mant / 1024.0, exp - 15);
    EXPECT_EQ(got, float(sign ? -magnitude : magnitude)) << code;
  }
}

}  // namespace
