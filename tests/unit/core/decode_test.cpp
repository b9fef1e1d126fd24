// SPDX-License-Identifier: Apache-2.0
// The CPU backend's weight decoding for every storage form: plain, transposed, row-selected,
// FP8 with block scales (edge blocks included), and MXFP4 blocks with e8m0 scales.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <templlm/core/numeric.hpp>
#include <templlm/kernels/cpu/decode.hpp>
#include <vector>

namespace {

using namespace templlm;

WeightView<Host> matrix_view(DType dtype, const void* data, std::int64_t out, std::int64_t in) {
  WeightView<Host> w;
  w.dtype = dtype;
  w.rank = 2;
  w.shape = {out, in, 0, 0};
  w.data = static_cast<const std::byte*>(data);
  return w;
}

TEST(Decode, Bf16RowsAndRowSelections) {
  std::vector<std::uint16_t> raw(6 * 4);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = f32_to_bf16(float(i) * 0.5f - 3.0f);
  const auto w = matrix_view(DType::bf16, raw.data(), 6, 4);
  std::vector<float> got(8);
  cpu::decode_rows(got.data(), w.rows(1, 3, 2), 1, 2);  // logical rows 1, 2 of {1, 3, 5} -> 3, 5
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(got[c], bf16_to_f32(raw[3 * 4 + c]));
    EXPECT_EQ(got[4 + c], bf16_to_f32(raw[5 * 4 + c]));
  }
}

TEST(Decode, TransposedStorageIsReadAsOutIn) {
  // Stored [in = 3, out = 2]; logical (r, c) = stored (c, r).
  const float stored[6] = {1, 2, 3, 4, 5, 6};
  auto w = matrix_view(DType::f32, stored, 2, 3);
  w.transposed = true;
  w.ld = 2;
  std::vector<float> got(6);
  cpu::decode_rows(got.data(), w, 0, 2);
  EXPECT_EQ(got, (std::vector<float>{1, 3, 5, 2, 4, 6}));
}

TEST(Decode, Fp8BlockScalesIncludingEdgeBlocks) {
  // out = 5, in = 7 with 4x4 blocks: scale_inv is [2, 2] and the edge blocks are partial.
  const std::int64_t out = 5, in = 7;
  std::vector<std::uint8_t> q(out * in);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::uint8_t((i * 37) % 256 == 0x7f ? 0x10 : (i * 37) % 256 & 0x7e);
  const float scales[4] = {0.5f, 2.0f, 0.25f, 8.0f};
  auto w = matrix_view(DType::f8_e4m3, q.data(), out, in);
  w.quant = Quant::fp8_block;
  w.block = 4;
  w.scales = reinterpret_cast<const std::byte*>(scales);
  w.scale_ld = 2;
  std::vector<float> got(out * in);
  cpu::decode_rows(got.data(), w, 0, out);
  for (std::int64_t r = 0; r < out; ++r)
    for (std::int64_t c = 0; c < in; ++c)
      EXPECT_EQ(got[r * in + c], fp8_e4m3fn_to_f32(q[r * in + c]) * scales[(r / 4) * 2 + c / 4])
          << r << "," << c;
}

TEST(Decode, Mxfp4LowNibbleIsTheEvenColumn) {
  // 3 rows (e.g. experts' rows of a fused tensor) x 64 columns: 32 bytes and 2 scales per row.
  const std::int64_t rows = 3, cols = 64;
  std::vector<std::uint8_t> blocks(rows * cols / 2), scales(rows * cols / 32);
  for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i] = std::uint8_t(i * 29 + 7);
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = std::uint8_t(120 + i);
  auto w = matrix_view(DType::u8, blocks.data(), rows, cols);
  w.quant = Quant::mxfp4;
  w.scales = reinterpret_cast<const std::byte*>(scales.data());
  w.scale_ld = cols / 32;
  std::vector<float> got(cols);
  cpu::decode_rows(got.data(), w.rows(2, 1), 0, 1);  // the third row alone
  for (std::int64_t c = 0; c < cols; ++c) {
    const std::uint8_t byte = blocks[2 * cols / 2 + c / 2];
    const std::uint8_t nibble = c % 2 == 0 ? (byte & 0xf) : (byte >> 4);
    EXPECT_EQ(got[c], fp4_e2m1_to_f32(nibble) * std::ldexp(1.0f, scales[2 * 2 + c / 32] - 127))
        << c;
  }
}

TEST(Decode, UnalignedStorageDecodesTheSame) {
  // Files whose header is not padded to 8 bytes (MLX) put every tensor at an odd address; the
  // decoders must read such bytes with memcpy (a uint16_t* or float* there is undefined
  // behaviour, which UBSan reports).
  const std::int64_t out = 3, in = 5;
  for (const DType dt : {DType::bf16, DType::f16, DType::f32}) {
    SCOPED_TRACE(std::string(dtype_name(dt)));
    const std::size_t es = dtype_size(dt);
    std::vector<std::byte> aligned(std::size_t(out * in) * es), storage(aligned.size() + 1);
    for (std::int64_t i = 0; i < out * in; ++i) {
      const float v = float(i) * 0.75f - 4.0f;
      const auto h = std::uint16_t(0x3C00 + i * 7);  // finite in both bf16 and f16
      std::memcpy(aligned.data() + i * std::int64_t(es), dt == DType::f32 ? static_cast<const void*>(&v) : &h, es);
    }
    std::memcpy(storage.data() + 1, aligned.data(), aligned.size());
    std::vector<float> want(static_cast<std::size_t>(out * in)), got(want.size());
    std::vector<float> vec(static_cast<std::size_t>(in));
    cpu::decode_rows(want.data(), matrix_view(dt, aligned.data(), out, in), 0, out);
    const auto odd = matrix_view(dt, storage.data() + 1, out, in);
    cpu::decode_rows(got.data(), odd, 0, out);
    EXPECT_EQ(got, want);
    cpu::decode_vector(vec.data(), odd.rows(2, 1));
    EXPECT_EQ(vec, std::vector<float>(want.begin() + 2 * in, want.end()));
  }
  // FP8 block scales at an odd address too.
  const std::uint8_t q[4] = {0x38, 0x40, 0x44, 0x48};
  const float scales[1] = {0.5f};
  std::byte odd_scales[5];
  std::memcpy(odd_scales + 1, scales, 4);
  auto w = matrix_view(DType::f8_e4m3, q, 1, 4);
  w.quant = Quant::fp8_block;
  w.block = 4;
  w.scales = odd_scales + 1;
  w.scale_ld = 1;
  std::vector<float> got(4);
  cpu::decode_rows(got.data(), w, 0, 1);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(got[c], fp8_e4m3fn_to_f32(q[c]) * 0.5f);
}

}  // namespace
