// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
//
// The decode GEMV (kernels/cuda/gemv.cuh) that linear runs for 1..8 rows of x: against the CPU
// backend for every row count, every stored form it reads (f32, bf16, f16, f8, FP8 blocks with
// edge blocks, MXFP4 rows of a stacked expert tensor), row-aligned and misaligned rows (odd
// in-features: a scalar head and tail around the 16-byte body), row selections of weights on the
// device, strided x and y, with and without bias; and the layouts it leaves to decode + cuBLAS.

namespace {

using namespace templlm;
using test::make_weight;
using test::op_tolerance;
using test::Twin;

/// A stored weight to multiply by, on the host (for the CPU) and its device view.
struct GemvCase {
  std::string what;
  WeightView<Host> host;
  WeightView<Device> device;
};

/// y = x W^T (+ b) on both backends for x of `rows` rows; the device must run the GEMV.
void expect_gemv_matches(gpu::Backend& gpu, cpu::Backend& cpu, const GemvCase& c, std::int64_t rows,
                         bool with_bias, std::uint32_t seed) {
  SCOPED_TRACE(c.what + ", " + std::to_string(rows) + " rows" + (with_bias ? ", bias" : ""));
  const std::int64_t n = c.host.shape[0], k = c.host.shape[1];
  ASSERT_TRUE(gpu::gemv_applies(rows, c.device));
  auto b = make_weight(DType::bf16, {n}, seed + 1);
  const auto db = with_bias ? gpu.upload(b.view) : WeightView<Device>{};
  Twin x(gpu, rows, k, seed + 2), y(gpu, rows, n, seed + 3);  // y starts as garbage: fully written
  cpu.linear(y.cpu(), x.cpu(), c.host, with_bias ? b.view : WeightView<Host>{});
  gpu.linear(y.gpu(), x.gpu(), c.device, db);
  EXPECT_LE(y.error(gpu), op_tolerance);
}

TEST_F(CudaOps, GemvMatchesCpuForEveryStoredFormatAndRowCount) {
  std::uint32_t seed = 800;
  // Odd sizes: out not a multiple of the 8 features a block, in not a multiple of 32 (rows off
  // 16-byte boundaries for f32/bf16/f16/f8: scalar head and tail), and in = 576 for FP8 blocks
  // of 128 (4.5 blocks: an edge block), 45 x 72 for blocks of 16 (chunks straddling block edges).
  auto f32 = make_weight(DType::f32, {45, 101}, ++seed);
  auto bf16 = make_weight(DType::bf16, {77, 203}, ++seed);
  auto bf16_aligned = make_weight(DType::bf16, {29, 512}, ++seed);
  auto f16 = make_weight(DType::f16, {33, 99}, ++seed);
  auto f8 = random_bytes_weight(37 * 117, ++seed);
  for (auto& byte : f8.data)
    if ((std::uint8_t(byte) & 0x7f) == 0x7f) byte = std::byte(0x01);  // no NaN codes
  f8.view.dtype = DType::f8_e4m3;
  f8.view.rank = 2;
  f8.view.shape = {37, 117, 0, 0};
  f8.view.data = f8.data.data();
  auto fp8 = fp8_block_weight(300, 576, 128, ++seed);
  auto fp8_16 = fp8_block_weight(45, 72, 16, ++seed);
  auto fp4 = mxfp4_weight(3 * 41, 224, ++seed);  // 3 experts of [41, 224] stacked

  std::vector<GemvCase> cases;
  auto add = [&](std::string what, const WeightView<Host>& h) { cases.push_back({what, h, gpu().upload(h)}); };
  add("f32 45x101", f32.view);
  add("bf16 77x203", bf16.view);
  add("bf16 29x512", bf16_aligned.view);
  add("f16 33x99", f16.view);
  add("f8_e4m3 37x117", f8.view);
  add("fp8 blocks of 128, 300x576", fp8.view);
  add("fp8 blocks of 128, rows 130.. (mid block)", fp8.view.rows(130, 99));
  add("fp8 blocks of 16, 45x72", fp8_16.view);
  add("mxfp4 expert 1 of 3", fp4.view.rows(41, 41));
  add("mxfp4 expert 2 of 3", fp4.view.rows(82, 41));
  for (const auto& c : cases)
    for (std::int64_t rows = 1; rows <= gpu::gemv_max_rows; ++rows)
      expect_gemv_matches(gpu(), cpu_, c, rows, rows % 2 == 1, seed += 10);
}

TEST_F(CudaOps, GemvReadsRowSelectionsOfDeviceWeightsAndStridedViews) {
  std::uint32_t seed = 900;
  const std::int64_t n = 39, k = 160;
  auto stacked = make_weight(DType::bf16, {2 * n, k + 3}, ++seed);  // rows 326 bytes apart
  auto f32 = make_weight(DType::f32, {n + 5, k}, ++seed);
  auto fp8 = fp8_block_weight(2 * n + 7, k, 32, ++seed);
  auto fp4 = mxfp4_weight(4 * n, k, ++seed);
  const struct {
    const char* what;
    WeightView<Host> whole;
    std::int64_t first, step;
  } selections[] = {{"bf16 odd rows (interleaved gate/up)", stacked.view, 1, 2},
                    {"bf16 even rows", stacked.view, 0, 2},
                    {"f32 rows 5..", f32.view, 5, 1},
                    {"fp8 blocks, rows 7..", fp8.view, 7, 1},
                    {"fp8 blocks, odd rows", fp8.view, 1, 2},
                    {"mxfp4 odd rows of experts 2 and 3", fp4.view, n * 2 + 1, 2},
                    {"mxfp4 expert 3", fp4.view, 3 * n, 1}};
  for (const auto& s : selections) {
    // bf16 with k + 3 columns: every other row starts off a 16-byte boundary.
    const std::int64_t cols = s.whole.shape[1];
    const auto whole = gpu().upload(s.whole);
    const GemvCase c{s.what, s.whole.rows(s.first, n, s.step), whole.rows(s.first, n, s.step)};
    for (std::int64_t rows : {1, 3, 8}) {
      expect_gemv_matches(gpu(), cpu_, c, rows, rows != 3, seed += 10);
      // Strided views: x and y are column ranges of wider matrices.
      SCOPED_TRACE(std::string(s.what) + ", strided x and y, " + std::to_string(rows) + " rows");
      auto b = make_weight(DType::f32, {n}, ++seed);
      const auto db = gpu().upload(b.view);
      Twin x(gpu(), rows, cols + 19, ++seed), y(gpu(), rows, n + 11, ++seed);
      cpu_.linear(y.cpu().col_range(6, n), x.cpu().col_range(13, cols), c.host, b.view);
      gpu().linear(y.gpu().col_range(6, n), x.gpu().col_range(13, cols), c.device, db);
      EXPECT_LE(y.error(gpu()), op_tolerance);  // the columns outside the range untouched too
    }
  }
}

TEST_F(CudaOps, GemvLeavesOtherLayoutsAndLargerBatchesToDecodeAndCublas) {
  std::uint32_t seed = 1000;
  const std::int64_t n = 45, k = 96;
  // A transposed device view (upload compacts host ones, so build it on the device).
  auto in_out = make_weight(DType::bf16, {k, n}, ++seed);  // stored [K, N]
  WeightView<Host> transposed = in_out.view;
  transposed.shape = {n, k, 0, 0};
  transposed.transposed = true;
  transposed.ld = n;
  WeightView<Device> dtransposed = gpu().upload(in_out.view);
  dtransposed.shape = {n, k, 0, 0};
  dtransposed.transposed = true;
  dtransposed.ld = n;
  auto fp8_8 = fp8_block_weight(n, k, 8, ++seed);  // blocks under 16 columns
  auto bf16 = make_weight(DType::bf16, {n, k}, ++seed);
  const GemvCase fallbacks[] = {{"bf16 transposed", transposed, dtransposed},
                                {"fp8 blocks of 8", fp8_8.view, gpu().upload(fp8_8.view)}};
  for (const auto& c : fallbacks) {
    SCOPED_TRACE(c.what);
    EXPECT_FALSE(gpu::gemv_applies(1, c.device));
    Twin x(gpu(), 2, k, ++seed), y(gpu(), 2, n, ++seed);
    cpu_.linear(y.cpu(), x.cpu(), c.host);
    gpu().linear(y.gpu(), x.gpu(), c.device);
    EXPECT_LE(y.error(gpu()), op_tolerance);
  }
  const auto dbf16 = gpu().upload(bf16.view);
  EXPECT_TRUE(gpu::gemv_applies(8, dbf16));
  EXPECT_FALSE(gpu::gemv_applies(9, dbf16));
  EXPECT_FALSE(gpu::gemv_applies(0, dbf16));
  for (std::int64_t rows : {8, 9}) {  // either side of the threshold
    SCOPED_TRACE(std::to_string(rows) + " rows");
    Twin x(gpu(), rows, k, ++seed), y(gpu(), rows, n, ++seed);
    cpu_.linear(y.cpu(), x.cpu(), bf16.view);
    gpu().linear(y.gpu(), x.gpu(), dbf16);
    EXPECT_LE(y.error(gpu()), op_tolerance);
  }
}

TEST_F(CudaOps, GemvOnLongRowsAndTheDecodePathAboveTheThreshold) {
  // 4099 x 4097 bf16: long rows off 16-byte boundaries through the GEMV (1 row), and through
  // decode + cuBLAS in blocks of 2^24 elements (9 rows), which LinearSpanningSeveralDecodeBlocks
  // (3 rows) no longer reaches now that the GEMV takes it.
  auto w = make_weight(DType::bf16, {4099, 4097}, 1100, 0.02f);
  const auto dw = gpu().upload(w.view);
  for (std::int64_t rows : {1, 9}) {
    SCOPED_TRACE(std::to_string(rows) + " rows");
    Twin x(gpu(), rows, 4097, 1101), y(gpu(), rows, 4099, std::vector<float>(std::size_t(rows * 4099)));
    cpu_.linear(y.cpu(), x.cpu(), w.view);
    gpu().linear(y.gpu(), x.gpu(), dw);
    EXPECT_LE(y.error(gpu()), op_tolerance);
  }
}

TEST_F(CudaOps, GemvSplitsNarrowOutputsOverKInOrder) {
  // A router-like 20 x 4099 (3 blocks of 8 features): split-K cuts every row into ranges summed
  // by a second kernel. Every stored form, rows 1..8, bias or not, strided x and y; and the
  // split count rule itself.
  EXPECT_EQ(gpu::gemv_splits(20, 4099 / 8, 264), 2);    // 512 chunks: two ranges of >= 256
  EXPECT_EQ(gpu::gemv_splits(20, 100000, 264), 16);     // capped at 16
  EXPECT_EQ(gpu::gemv_splits(20, 200, 264), 1);         // too short to split
  EXPECT_EQ(gpu::gemv_splits(4096, 100000, 264), 1);    // wide enough already
  EXPECT_EQ(gpu::gemv_splits(20, 100000, 0), 1);        // split-K off
  std::uint32_t seed = 1200;
  auto bf16 = make_weight(DType::bf16, {20, 16387}, ++seed, 0.05f);  // 2048 chunks, odd tail
  auto f32 = make_weight(DType::f32, {13, 8195}, ++seed, 0.05f);
  auto fp8 = fp8_block_weight(21, 8192, 128, ++seed);
  auto fp4 = mxfp4_weight(2 * 17, 32768, ++seed);
  std::vector<GemvCase> cases;
  auto add = [&](std::string what, const WeightView<Host>& h) { cases.push_back({what, h, gpu().upload(h)}); };
  add("bf16 20x16387", bf16.view);
  add("f32 13x8195", f32.view);
  add("fp8 blocks 21x8192", fp8.view);
  add("mxfp4 expert 2 of 2, 17x32768", fp4.view.rows(17, 17));
  gpu::GemvWorkspace ws;
  ws.target_blocks = 264;  // an H100's 132 SMs, twice
  for (const auto& c : cases)
    for (std::int64_t rows : {1, 2, 5, 8}) {
      SCOPED_TRACE(c.what + ", " + std::to_string(rows) + " rows");
      const std::int64_t n = c.host.shape[0], k = c.host.shape[1];
      auto b = make_weight(DType::f32, {n}, ++seed);
      const auto db = gpu().upload(b.view);
      const bool with_bias = rows != 2;
      Twin x(gpu(), rows, k + 5, ++seed), y(gpu(), rows, n + 3, ++seed);
      cpu_.linear(y.cpu().col_range(2, n), x.cpu().col_range(5, k), c.host, with_bias ? b.view : WeightView<Host>{});
      gpu::gemv(gpu().stream(), y.gpu().col_range(2, n), x.gpu().col_range(5, k), c.device,
                with_bias ? db : WeightView<Device>{}, &ws);
      EXPECT_LE(y.error(gpu()), op_tolerance);
    }
  EXPECT_GT(ws.partials.size(), 0u);  // the split path ran
}

}  // namespace
