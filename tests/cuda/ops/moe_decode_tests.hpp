// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
//
// moe_experts for decode-sized batches (kernels/cuda/moe_gemv.cuh): up to 8 tokens, the expert
// projections run as GEMVs over each selected expert's rows. Against the CPU backend for every
// stored form the GEMV reads (f32, bf16, f16 with misaligned rows, FP8 blocks, MXFP4 rows of
// stacked tensors), biases and the clamped activation, Llama 4's input scaling, a token choosing
// one expert twice (more rows than the kernel's row count) and ids out of range; 9 tokens (the
// grouped GEMM) beside them.

namespace {

using namespace templlm;
using test::op_tolerance;
using test::Twin;

/// Routed experts on both backends for `ids` ([t, k]) with random route weights.
void expect_moe_matches(gpu::Backend& gpu, cpu::Backend& cpu, std::span<const ExpertWeights<Host>> host,
                        std::span<const ExpertWeights<Device>> device, const cfg::SwiGlu& f, std::int64_t hidden,
                        const std::vector<int>& ids, std::int64_t t, bool input_scale, std::uint32_t seed) {
  SCOPED_TRACE(std::to_string(t) + " tokens");
  const std::int64_t k = std::int64_t(ids.size()) / t;
  Twin weights(gpu, t, k, seed, 0.5f);
  gpu::DeviceBuffer<int> gids;
  gpu.copy_from_host(gids, std::span<const int>(ids));
  Twin x(gpu, t, hidden, seed + 1), out(gpu, t, hidden, seed + 2);
  const auto cpu_experts = cpu.prepare_experts({host.begin(), host.end()}, hidden, f);
  const auto gpu_experts = gpu.prepare_experts({device.begin(), device.end()}, hidden, f);
  cpu.moe_experts(out.cpu(), x.cpu(), {MatrixView<const int, Host>(ids.data(), t, k), weights.cpu()}, cpu_experts, f,
                  input_scale);
  gpu.moe_experts(out.gpu(), x.gpu(), {MatrixView<const int, Device>(gids.data(), t, k), weights.gpu()}, gpu_experts,
                  f, input_scale);
  EXPECT_LE(out.error(gpu), op_tolerance);
}

/// t tokens choosing k distinct experts of `experts` each, spread to share some experts.
std::vector<int> spread_ids(std::int64_t t, std::int64_t k, int experts, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> ids;
  for (std::int64_t i = 0; i < t; ++i) {
    std::vector<int> all(std::size_t(experts), 0);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    ids.insert(ids.end(), all.begin(), all.begin() + k);
  }
  return ids;
}

TEST_F(CudaOps, MoeDecodeRunsExpertGemvsForEveryStoredForm) {
  struct Case {
    const char* what;
    DType dtype;  // f32 / bf16 / f16 through make_ffn; f8_e4m3 means FP8 blocks of 128
    std::int64_t hidden;
    int experts, active;
    cfg::SwiGlu f;
    bool input_scale;
  };
  const Case cases[] = {
      {"bf16 top-8 of 16", DType::bf16, 96, 16, 8, {.intermediate = 40}, false},
      {"f32 top-2 of 8", DType::f32, 64, 8, 2, {.intermediate = 96}, false},
      {"f16 misaligned rows, biased and clamped", DType::f16, 67, 6, 4,
       {.intermediate = 33, .bias = true, .clamp = 7.0f, .alpha = 1.702f}, false},
      {"bf16 input-scaled top-1 (Llama 4)", DType::bf16, 40, 5, 1, {.intermediate = 24}, true},
      {"fp8 blocks of 128, top-2 of 4", DType::f8_e4m3, 320, 4, 2, {.intermediate = 192}, false},
  };
  std::uint32_t seed = 1300;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<FfnWeights> plain;
    std::vector<RawWeight> fp8;
    std::vector<ExpertWeights<Host>> host;
    std::vector<ExpertWeights<Device>> device;
    for (int e = 0; e < c.experts; ++e) {
      if (c.dtype == DType::f8_e4m3) {
        fp8.push_back(fp8_block_weight(c.f.intermediate, c.hidden, 128, seed += 10));
        fp8.push_back(fp8_block_weight(c.f.intermediate, c.hidden, 128, seed += 10));
        fp8.push_back(fp8_block_weight(c.hidden, c.f.intermediate, 128, seed += 10));
      } else {
        plain.push_back(make_ffn(c.dtype, c.hidden, c.f, seed += 10));
      }
    }
    for (int e = 0; e < c.experts; ++e) {
      if (c.dtype == DType::f8_e4m3) {
        const auto* w = &fp8[std::size_t(3 * e)];
        host.push_back({w[0].view, w[1].view, w[2].view, {}, {}, {}});
        device.push_back({gpu().upload(w[0].view), gpu().upload(w[1].view), gpu().upload(w[2].view), {}, {}, {}});
      } else {
        host.push_back(plain[std::size_t(e)].host());
        device.push_back(plain[std::size_t(e)].upload(gpu()));
      }
    }
    ASSERT_TRUE(gpu::gemv_format(device[0].gate).has_value());
    for (std::int64_t t : {1, 2, 8, 9}) {
      const auto ids = spread_ids(t, c.active, c.experts, ++seed);
      expect_moe_matches(gpu(), cpu_, host, device, c.f, c.hidden, ids, t, c.input_scale, seed += 10);
    }
    // One token choosing an expert twice (two rows for the one-row kernel) and ids out of range.
    if (c.active >= 4) {
      const std::vector<int> ids = {3, -1, 3, c.experts};
      expect_moe_matches(gpu(), cpu_, host, device, c.f, c.hidden, ids, 1, c.input_scale, seed += 10);
    }
  }
}

TEST_F(CudaOps, MoeDecodeOnMxfp4RowsOfStackedTensors) {
  // GPT-OSS's layout, as MoeExpertsOnMxfp4RowsOfStackedTensorsWithBiases, for 1..8 tokens.
  const std::int64_t e_count = 6, h = 96, inter = 64;
  const cfg::SwiGlu f{.intermediate = inter, .bias = true, .clamp = 7.0f, .alpha = 1.702f};
  auto gate_up = mxfp4_weight(e_count * 2 * inter, h, 1400);
  auto down = mxfp4_weight(e_count * h, inter, 1401);
  const auto d_gate_up = gpu().upload(gate_up.view), d_down = gpu().upload(down.view);
  std::vector<HostWeight> biases;
  for (int i = 0; i < 3 * e_count; ++i) biases.push_back(make_weight(DType::f32, {i % 3 == 2 ? h : inter}, 1410 + i));
  std::vector<ExpertWeights<Host>> host;
  std::vector<ExpertWeights<Device>> device;
  for (std::int64_t e = 0; e < e_count; ++e) {
    const auto* b = &biases[std::size_t(3 * e)];
    host.push_back({gate_up.view.rows(e * 2 * inter, inter, 2), gate_up.view.rows(e * 2 * inter + 1, inter, 2),
                    down.view.rows(e * h, h), b[0].view, b[1].view, b[2].view});
    device.push_back({d_gate_up.rows(e * 2 * inter, inter, 2), d_gate_up.rows(e * 2 * inter + 1, inter, 2),
                      d_down.rows(e * h, h), gpu().upload(b[0].view), gpu().upload(b[1].view),
                      gpu().upload(b[2].view)});
  }
  ASSERT_EQ(gpu::gemv_format(device[0].gate), gpu::GemvFormat::mxfp4);
  std::uint32_t seed = 1450;
  for (std::int64_t t : {1, 3, 8, 9}) {
    const auto ids = spread_ids(t, 4, int(e_count), ++seed);
    expect_moe_matches(gpu(), cpu_, host, device, f, h, ids, t, false, seed += 10);
  }
}

}  // namespace
