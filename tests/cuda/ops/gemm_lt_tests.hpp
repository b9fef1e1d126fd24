// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
//
// linear in Precision::bf16 (kernels/cuda/gemm_lt.cuh): against the CPU backend within 1e-2 for
// every stored form (bf16 in place, at a row offset, row-selected and transposed; f32, f16, FP8
// blocks, MXFP4 rows), odd M/N/K, strided x and y, with and without bias. Above 8 rows the error
// must also exceed 1e-5, which shows x really was rounded (the Lt path ran); at 8 rows and fewer it
// must stay within 1e-5, which shows the fp32 GEMV still runs. fp32 mode stays within 1e-5.

namespace {

using namespace templlm;
using test::make_weight;
using test::op_tolerance;
using test::Twin;

/// bf16 operands, fp32 accumulate: x and W rounded to 8 significant bits (~2e-3 each).
inline constexpr double bf16_tolerance = 1e-2;

class CudaGemmLt : public CudaOps {
 protected:
  void SetUp() override {
    CudaOps::SetUp();
    if (IsSkipped()) return;
    bf16_ = std::make_unique<gpu::Backend>(0, gpu::Precision::bf16);
  }
  gpu::Backend& bf16() { return *bf16_; }
  std::unique_ptr<gpu::Backend> bf16_;
};

struct LtCase {
  std::string what;
  WeightView<Host> host;
  WeightView<Device> device;
};

/// y = x W^T (+ b) on the CPU and on `be`, x and y optionally column ranges of wider matrices;
/// returns the norm-wise relative error of the whole of y.
double linear_error(gpu::Backend& be, cpu::Backend& cpu, const LtCase& c, std::int64_t rows, bool with_bias,
                    bool strided, std::uint32_t seed) {
  const std::int64_t n = c.host.shape[0], k = c.host.shape[1];
  auto b = make_weight(DType::bf16, {n}, seed + 1);
  const auto db = with_bias ? be.upload(b.view) : WeightView<Device>{};
  const WeightView<Host> hb = with_bias ? b.view : WeightView<Host>{};
  const std::int64_t x_pad = strided ? 13 : 0, y_pad = strided ? 11 : 0;
  Twin x(be, rows, k + x_pad, seed + 2), y(be, rows, n + y_pad, seed + 3);  // y: garbage, overwritten
  if (strided) {
    cpu.linear(y.cpu().col_range(5, n), x.cpu().col_range(7, k), c.host, hb);
    be.linear(y.gpu().col_range(5, n), x.gpu().col_range(7, k), c.device, db);
  } else {
    cpu.linear(y.cpu(), x.cpu(), c.host, hb);
    be.linear(y.gpu(), x.gpu(), c.device, db);
  }
  return y.error(be);
}

TEST_F(CudaGemmLt, Bf16LinearMatchesCpuForEveryStoredFormAndShape) {
  ASSERT_EQ(bf16().precision(), gpu::Precision::bf16);
  ASSERT_EQ(gpu().precision(), gpu::Precision::fp32);
  std::uint32_t seed = 2000;
  // Odd N and K everywhere; K = 576 gives FP8 blocks of 128 an edge block.
  auto bf16w = make_weight(DType::bf16, {77, 203}, ++seed);
  auto stacked = make_weight(DType::bf16, {2 * 39 + 5, 160}, ++seed);
  auto in_out = make_weight(DType::bf16, {96, 45}, ++seed);  // stored [K, N]
  auto f32 = make_weight(DType::f32, {45, 101}, ++seed);
  auto f16 = make_weight(DType::f16, {33, 99}, ++seed);
  auto fp8 = fp8_block_weight(300, 576, 128, ++seed);
  auto fp4 = mxfp4_weight(3 * 41, 224, ++seed);  // 3 experts of [41, 224] stacked

  WeightView<Host> transposed = in_out.view;
  transposed.shape = {45, 96, 0, 0};
  transposed.transposed = true;
  transposed.ld = 45;
  WeightView<Device> dtransposed = bf16().upload(in_out.view);  // upload compacts host views
  dtransposed.shape = transposed.shape;
  dtransposed.transposed = true;
  dtransposed.ld = 45;
  const auto dstacked = bf16().upload(stacked.view);
  const auto dfp4 = bf16().upload(fp4.view);

  std::vector<LtCase> cases;
  auto add = [&](std::string what, const WeightView<Host>& h) { cases.push_back({what, h, bf16().upload(h)}); };
  add("bf16 77x203 in place", bf16w.view);
  cases.push_back({"bf16 rows 5.. in place (rows off 256-byte alignment)", stacked.view.rows(5, 39),
                   dstacked.rows(5, 39)});
  cases.push_back({"bf16 odd rows (row-selected: decoded)", stacked.view.rows(1, 39, 2), dstacked.rows(1, 39, 2)});
  cases.push_back({"bf16 transposed", transposed, dtransposed});
  add("f32 45x101", f32.view);
  add("f16 33x99", f16.view);
  add("fp8 blocks of 128, 300x576", fp8.view);
  add("fp8 blocks of 128, rows 130..", fp8.view.rows(130, 99));
  cases.push_back({"mxfp4 expert 2 of 3", fp4.view.rows(41, 41), dfp4.rows(41, 41)});
  cases.push_back({"mxfp4 odd rows of experts 2 and 3", fp4.view.rows(41, 41, 2), dfp4.rows(41, 41, 2)});

  for (const auto& c : cases)
    for (std::int64_t rows : {9, 13, 37})
      for (bool strided : {false, true}) {
        const bool with_bias = (rows + strided) % 2 == 1;
        SCOPED_TRACE(c.what + ", " + std::to_string(rows) + " rows" + (strided ? ", strided x and y" : "") +
                     (with_bias ? ", bias" : ""));
        const double err = linear_error(bf16(), cpu_, c, rows, with_bias, strided, seed += 10);
        EXPECT_LE(err, bf16_tolerance);
        EXPECT_GT(err, op_tolerance) << "x was not rounded to bf16: the Lt path did not run";
      }
}

TEST_F(CudaGemmLt, UpToEightRowsTheGemvStillRunsInFp32) {
  std::uint32_t seed = 2100;
  auto bf16w = make_weight(DType::bf16, {77, 203}, ++seed);
  auto fp8 = fp8_block_weight(45, 576, 128, ++seed);
  const LtCase cases[] = {{"bf16 77x203", bf16w.view, bf16().upload(bf16w.view)},
                          {"fp8 blocks of 128", fp8.view, bf16().upload(fp8.view)}};
  for (const auto& c : cases)
    for (std::int64_t rows : {1, 5, 8}) {
      SCOPED_TRACE(c.what + ", " + std::to_string(rows) + " rows");
      ASSERT_TRUE(gpu::gemv_applies(rows, c.device));
      EXPECT_LE(linear_error(bf16(), cpu_, c, rows, rows != 5, rows == 5, seed += 10), op_tolerance);
    }
}

TEST_F(CudaGemmLt, Fp32ModeIsUnchanged) {
  // The same products on the default backend: exact fp32, within 1e-5 above the GEMV too.
  std::uint32_t seed = 2200;
  auto bf16w = make_weight(DType::bf16, {77, 203}, ++seed);
  auto f32 = make_weight(DType::f32, {45, 101}, ++seed);
  auto fp4 = mxfp4_weight(82, 224, ++seed);
  const LtCase cases[] = {{"bf16 in place", bf16w.view, gpu().upload(bf16w.view)},
                          {"f32 in place", f32.view, gpu().upload(f32.view)},
                          {"mxfp4 (decoded)", fp4.view, gpu().upload(fp4.view)}};
  for (const auto& c : cases)
    for (std::int64_t rows : {9, 37}) {
      SCOPED_TRACE(c.what + ", " + std::to_string(rows) + " rows");
      EXPECT_LE(linear_error(gpu(), cpu_, c, rows, rows == 9, rows == 37, seed += 10), op_tolerance);
    }
}

TEST_F(CudaGemmLt, LongRowsAcrossSeveralDecodeBlocks) {
  // 4099 x 4097 f32: padded to 4104 bf16 columns, 2^24 / 4104 = 4088 rows a block, so two blocks
  // (the second 11 rows) written at column offsets of y.
  auto w = make_weight(DType::f32, {4099, 4097}, 2300, 0.02f);
  const LtCase c{"f32 4099x4097", w.view, bf16().upload(w.view)};
  EXPECT_LE(linear_error(bf16(), cpu_, c, 9, true, false, 2301), bf16_tolerance);
}

TEST_F(CudaGemmLt, HeuristicIsAskedOncePerShape) {
  // Decode and prefill steps repeat a handful of shapes: the algorithm comes from the cache.
  auto w = make_weight(DType::bf16, {45, 96}, 2400);
  const auto dw = bf16().upload(w.view);
  gpu::LtWorkspace lt;
  Twin x(bf16(), 37, 96, 2401), y(bf16(), 37, 45, 2402);
  for (int step = 0; step < 3; ++step) gpu::linear_bf16(lt, bf16().stream(), y.gpu(), x.gpu(), dw);
  EXPECT_EQ(lt.plans(), 1u);
  gpu::linear_bf16(lt, bf16().stream(), y.gpu().row_range(0, 20), x.gpu().row_range(0, 20), dw);
  EXPECT_EQ(lt.plans(), 2u);
  cpu_.linear(y.cpu(), x.cpu(), w.view);  // rows 20.. are still those of the 37-row product
  EXPECT_LE(y.error(bf16()), bf16_tolerance);
}

}  // namespace
