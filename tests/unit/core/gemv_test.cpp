// SPDX-License-Identifier: Apache-2.0
// The CPU GEMV (kernels/cpu/gemv.hpp) that reads bf16 / f32 weights in place for decode: equal to
// a double-precision dot product within fp32 rounding for 1-9 rows of x, lengths with and
// without a tail, weights at odd addresses, row selections; independent of how the outputs are
// split; and cpu::linear routes small batches through it with the same results as the
// decode-then-Eigen path gives a large batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <templlm/core/numeric.hpp>
#include <templlm/kernels/cpu/gemv.hpp>
#include <templlm/kernels/cpu/isa.hpp>
#include <templlm/kernels/cpu/linear.hpp>
#include <vector>

namespace {

using namespace templlm;

struct Stored {
  std::vector<std::byte> bytes;
  WeightView<Host> view;
};

/// An [out, in] weight of `dtype` holding `values`, starting `offset` bytes into its buffer.
Stored store(DType dtype, const std::vector<float>& values, std::int64_t out, std::int64_t in, std::size_t offset) {
  Stored s;
  const std::size_t es = dtype == DType::bf16 ? 2 : 4;
  s.bytes.resize(offset + values.size() * es);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::bf16) {
      const std::uint16_t b = f32_to_bf16(values[i]);
      std::memcpy(s.bytes.data() + offset + i * 2, &b, 2);
    } else {
      std::memcpy(s.bytes.data() + offset + i * 4, &values[i], 4);
    }
  }
  s.view.dtype = dtype;
  s.view.rank = 2;
  s.view.shape = {out, in, 0, 0};
  s.view.data = s.bytes.data() + offset;
  return s;
}

float stored_value(DType dtype, float v) { return dtype == DType::bf16 ? bf16_to_f32(f32_to_bf16(v)) : v; }

TEST(Gemv, EqualsADoubleDotProductForEveryShape) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const DType dtype : {DType::bf16, DType::f32})
    for (const std::int64_t k : {1, 7, 8, 33, 64, 100, 1024})
      for (const std::int64_t rows : {1, 2, 3, 4, 5, 8, 9})
        for (const std::size_t offset : {0, 1}) {
          const std::int64_t n = 11;
          std::vector<float> wv(std::size_t(n * k)), x(std::size_t(rows * (k + 3)));
          for (auto& v : wv) v = u(rng);
          for (auto& v : x) v = u(rng);
          const Stored w = store(dtype, wv, n, k, offset);
          const std::int64_t ldx = k + 3, ldy = n + 2;
          std::vector<float> y(std::size_t(rows * ldy), -7.0f);
          cpu::gemv(y.data(), ldy, x.data(), ldx, rows, w.view, 0, n);
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t o = 0; o < n; ++o) {
              double want = 0, scale = 0;
              for (std::int64_t c = 0; c < k; ++c) {
                const double p = double(stored_value(dtype, wv[std::size_t(o * k + c)])) * x[std::size_t(r * ldx + c)];
                want += p;
                scale += std::abs(p);
              }
              EXPECT_NEAR(y[std::size_t(r * ldy + o)], want, 1e-6 * scale + 1e-30)
                  << dtype_name(dtype) << " k " << k << " rows " << rows << " offset " << offset;
            }
          // Padding between rows of y is left alone.
          for (std::int64_t r = 0; r < rows; ++r) EXPECT_EQ(y[std::size_t(r * ldy + n)], -7.0f);
        }
}

TEST(Gemv, RowSelectionsAndAnySplitGiveTheSameBits) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::int64_t n = 12, k = 200, rows = 3;
  std::vector<float> wv(std::size_t(n * k)), x(std::size_t(rows * k));
  for (auto& v : wv) v = u(rng);
  for (auto& v : x) v = u(rng);
  const Stored w = store(DType::bf16, wv, n, k, 0);
  std::vector<float> whole(std::size_t(rows * n)), split(std::size_t(rows * n));
  cpu::gemv(whole.data(), n, x.data(), k, rows, w.view, 0, n);
  for (std::int64_t n0 = 0; n0 < n; n0 += 5) cpu::gemv(split.data(), n, x.data(), k, rows, w.view, n0, std::min(n, n0 + 5));
  EXPECT_EQ(whole, split);
  // Logical rows {1, 4, 7, 10} (row_base 1, step 3) are physical rows 1, 4, 7, 10.
  const auto sel = w.view.rows(1, 4, 3);
  std::vector<float> picked(std::size_t(rows * 4));
  cpu::gemv(picked.data(), 4, x.data(), k, rows, sel, 0, 4);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < 4; ++j) EXPECT_EQ(picked[std::size_t(r * 4 + j)], whole[std::size_t(r * n + 1 + 3 * j)]);
}

TEST(Gemv, LinearGivesTheSameResultsThroughEitherPath) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::int64_t n = 300, k = 96, rows = 20;  // 20 rows: the decode-then-Eigen path
  std::vector<float> wv(std::size_t(n * k)), x(std::size_t(rows * k)), b(static_cast<std::size_t>(n));
  for (auto& v : wv) v = u(rng);
  for (auto& v : x) v = u(rng);
  for (auto& v : b) v = u(rng);
  const Stored w = store(DType::bf16, wv, n, k, 0), bias = [&] {
    Stored s = store(DType::bf16, b, n, 1, 0);
    s.view.rank = 1;
    s.view.shape = {n, 0, 0, 0};
    return s;
  }();
  ThreadPool pool(2);
  std::vector<float> big(std::size_t(rows * n)), small(std::size_t(2 * n));
  cpu::linear(pool, MatrixView<float>(big.data(), rows, n), MatrixView<const float>(x.data(), rows, k), w.view, bias.view);
  cpu::linear(pool, MatrixView<float>(small.data(), 2, n), MatrixView<const float>(x.data(), 2, k), w.view, bias.view);
  for (std::size_t i = 0; i < small.size(); ++i) EXPECT_NEAR(small[i], big[i], 1e-5f * (1.0f + std::abs(big[i]))) << i;
}

// FP8 blocks and MXFP4 go through a one-row buffer: the same values as decode_rows gives.
TEST(Gemv, QuantisedRowsEqualTheirDecodedValues) {
  std::mt19937 rng(5);
  const std::int64_t n = 6, k = 64, rows = 3;
  std::vector<std::uint8_t> fp8(std::size_t(n * k)), blocks(std::size_t(n * k / 2)), e8m0(std::size_t(n * k / 32));
  for (auto& v : fp8) v = std::uint8_t(rng() % 0x7f);  // finite e4m3 values of both signs
  for (std::size_t i = 0; i < fp8.size(); i += 3) fp8[i] |= 0x80;
  for (auto& v : blocks) v = std::uint8_t(rng());
  for (auto& v : e8m0) v = std::uint8_t(120 + rng() % 10);
  const float scales[1 * 2] = {0.5f, 2.0f};  // [ceil(6/32), ceil(64/32)]: 32 x 32 blocks
  auto view = [&](DType dtype, const void* data, Quant quant, const void* sc, std::int64_t scale_ld, int block) {
    WeightView<Host> w;
    w.dtype = dtype;
    w.rank = 2;
    w.shape = {n, k, 0, 0};
    w.data = static_cast<const std::byte*>(data);
    w.quant = quant;
    w.scales = static_cast<const std::byte*>(sc);
    w.scale_ld = scale_ld;
    w.block = block;
    return w;
  };
  const auto f8 = view(DType::f8_e4m3, fp8.data(), Quant::fp8_block, scales, 2, 32);
  const auto mx = view(DType::u8, blocks.data(), Quant::mxfp4, e8m0.data(), k / 32, 0);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(std::size_t(rows * k));
  for (auto& v : x) v = u(rng);
  for (const WeightView<Host>& w : {f8, mx.rows(1, 4)}) {
    std::vector<float> decoded(std::size_t(w.shape[0] * k)), y(std::size_t(rows * w.shape[0]));
    cpu::decode_rows(decoded.data(), w, 0, w.shape[0]);
    cpu::gemv(y.data(), w.shape[0], x.data(), k, rows, w, 0, w.shape[0]);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t o = 0; o < w.shape[0]; ++o) {
        double want = 0, scale = 0;
        for (std::int64_t c = 0; c < k; ++c) {
          const double p = double(decoded[std::size_t(o * k + c)]) * x[std::size_t(r * k + c)];
          want += p;
          scale += std::abs(p);
        }
        EXPECT_NEAR(y[std::size_t(r * w.shape[0] + o)], want, 1e-6 * scale + 1e-30) << int(w.quant) << " " << r << "," << o;
      }
  }
}

TEST(Isa, TheBuildDescribesItsInstructionSetsAndThisCpuHasThem) {
  EXPECT_FALSE(cpu::isa_description().empty());
  EXPECT_NO_THROW(cpu::check_cpu_supports_build());
#if defined(__AVX2__)
  EXPECT_NE(cpu::isa_description().find("avx2"), std::string::npos);
#endif
}

}  // namespace
