// SPDX-License-Identifier: Apache-2.0
// Every op of the CUDA backend against the CPU backend (the specification) on random inputs of
// odd sizes: fp32 results within 1e-5 norm-wise relative error, bf16/f16 weights decoded exactly
// so within the same bound, routing decisions identical. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <templlm/layers/rope.hpp>
#include <templlm/layers/vision/pixel_shuffle.hpp>
#include <templlm/layers/vision/vision_rope.hpp>

#include "device.hpp"
#include "kv_twin.hpp"
#include "testbed.hpp"

namespace {

using namespace templlm;
using test::HostWeight;
using test::make_weight;
using test::op_tolerance;
using test::random_floats;
using test::relative_error;
using test::Twin;
using test::KvTwin;
using test::PositionsTwin;

class CudaOps : public test::GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (IsSkipped()) return;
    gpu_ = std::make_unique<gpu::Backend>();
  }
  gpu::Backend& gpu() { return *gpu_; }
  cpu::Backend cpu_{2};
  std::unique_ptr<gpu::Backend> gpu_;
};

// --- memory -----------------------------------------------------------------------------------

TEST_F(CudaOps, CopiesRoundTripThroughStridedViews) {
  Twin m(gpu(), 7, 13, 1);
  gpu::DeviceBuffer<float> buf;
  auto view = gpu().matrix(buf, 7, 13);
  ASSERT_EQ(view.rows, 7);
  ASSERT_GE(buf.size(), 91u);
  std::vector<float> cols(7 * 5);
  gpu().copy_to_host(std::span<float>(cols), MatrixView<const float, Device>(m.gpu().col_range(4, 5)));
  for (int r = 0; r < 7; ++r)
    for (int c = 0; c < 5; ++c) EXPECT_EQ(cols[r * 5 + c], m.host[r * 13 + 4 + c]);
}

TEST_F(CudaOps, BuffersOnlyGrow) {
  gpu::DeviceBuffer<int> b;
  b.resize(100);
  const int* p = b.data();
  b.resize(10);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 10u);
  EXPECT_EQ(b.capacity(), 100u);
}

TEST_F(CudaOps, UploadF32DecodesBf16) {
  auto w = make_weight(DType::bf16, {37}, 3);
  const auto d = gpu().upload_f32(w.view);
  EXPECT_EQ(d.size, 37);
  std::vector<float> got(37), want(37);
  gpu().copy_to_host(std::span<float>(got), MatrixView<const float, Device>(d.data, 1, 37));
  cpu::decode_vector(want.data(), w.view);
  EXPECT_EQ(got, want);
}

// --- elementwise ------------------------------------------------------------------------------

TEST_F(CudaOps, EmbedGathersRowsOfEveryDtype) {
  for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
    auto table = make_weight(dt, {101, 67}, 5, 1.0f);
    const auto dtable = gpu().upload(table.view);
    const std::vector<int> ids = {3, 100, 0, 3, 57, 99, 12};
    Twin out(gpu(), 7, 67, std::vector<float>(7 * 67));
    cpu_.embed(out.cpu(), table.view, ids);
    gpu().embed(out.gpu(), dtable, ids);
    EXPECT_EQ(out.download(gpu()), out.host) << dtype_name(dt);
  }
}

TEST_F(CudaOps, AddAndCopyRow) {
  Twin y(gpu(), 37, 129, 7), x(gpu(), 37, 129, 8);
  cpu_.add(y.cpu(), x.cpu());
  gpu().add(y.gpu(), x.gpu());
  EXPECT_EQ(y.download(gpu()), y.host);
  Twin dst(gpu(), 3, 129, 9);
  cpu_.copy_row(dst.cpu(), 1, x.cpu(), 36);
  gpu().copy_row(dst.gpu(), 1, x.gpu(), 36);
  EXPECT_EQ(dst.download(gpu()), dst.host);
}

TEST_F(CudaOps, ScaleRowsByPosition) {
  Twin x(gpu(), 37, 65, 10);
  std::vector<int> pos(37);
  for (int i = 0; i < 37; ++i) pos[i] = i * 613;
  const PositionsTwin p(gpu(), pos);
  cpu_.scale_rows_by_position(x.cpu(), p.cpu(), 8192.0f, 0.1f);
  gpu().scale_rows_by_position(x.gpu(), p.gpu(), 8192.0f, 0.1f);
  EXPECT_LE(x.error(gpu()), op_tolerance);
}

// --- norm -------------------------------------------------------------------------------------

TEST_F(CudaOps, RmsNormWithAndWithoutWeightInPlaceAndPerHead) {
  const auto w = random_floats(129, 11);
  VectorView<const float, Device> dw;
  const VectorView<const float, Host> hw129{w.data(), 129};
  {
    HostWeight hw;
    hw.view.dtype = DType::f32;
    hw.view.rank = 1;
    hw.view.shape[0] = 129;
    hw.view.data = reinterpret_cast<const std::byte*>(w.data());
    dw = gpu().upload_f32(hw.view);
  }
  Twin x(gpu(), 37, 129, 12, 3.0f), y(gpu(), 37, 129, std::vector<float>(37 * 129));
  cpu_.rms_norm(y.cpu(), x.cpu(), hw129, 1e-6f);
  gpu().rms_norm(y.gpu(), x.gpu(), dw, 1e-6f);
  EXPECT_LE(y.error(gpu()), op_tolerance);
  cpu_.rms_norm(x.cpu(), x.cpu(), {}, 1e-5f);  // weightless, in place
  gpu().rms_norm(x.gpu(), x.gpu(), {}, 1e-5f);
  EXPECT_LE(x.error(gpu()), op_tolerance);

  Twin small(gpu(), 7, 129, 15, 1e-3f);  // mean square ~ eps: eps must be added, not dropped
  cpu_.rms_norm(small.cpu(), small.cpu(), hw129, 1e-6f);
  gpu().rms_norm(small.gpu(), small.gpu(), dw, 1e-6f);
  EXPECT_LE(small.error(gpu()), op_tolerance);

  Twin q(gpu(), 5, 6 * 32, 13);  // per head: [5, 6*32] seen as [30, 32]
  const auto hw = random_floats(32, 14);
  HostWeight hv;
  hv.view.dtype = DType::f32;
  hv.view.rank = 1;
  hv.view.shape[0] = 32;
  hv.view.data = reinterpret_cast<const std::byte*>(hw.data());
  const auto dhw = gpu().upload_f32(hv.view);
  cpu_.rms_norm(q.cpu().split_rows(32), q.cpu().split_rows(32), VectorView<const float, Host>{hw.data(), 32}, 1e-6f);
  gpu().rms_norm(q.gpu().split_rows(32), q.gpu().split_rows(32), dhw, 1e-6f);
  EXPECT_LE(q.error(gpu()), op_tolerance);
}

// --- linear -----------------------------------------------------------------------------------

struct LinearCase {
  DType dtype;
  std::int64_t rows, in, out;
  bool bias;
};

TEST_F(CudaOps, LinearMatchesCpuForEveryWeightDtype) {
  const LinearCase cases[] = {{DType::f32, 37, 67, 53, false}, {DType::bf16, 37, 67, 53, true},
                              {DType::f16, 5, 129, 31, false}, {DType::bf16, 1, 256, 1000, false},
                              {DType::f32, 1, 33, 7, true},    {DType::bf16, 64, 64, 64, false}};
  std::uint32_t seed = 20;
  for (const auto& c : cases) {
    auto w = make_weight(c.dtype, {c.out, c.in}, ++seed);
    auto b = make_weight(DType::bf16, {c.out}, ++seed);
    const auto dw = gpu().upload(w.view);
    const auto db = c.bias ? gpu().upload(b.view) : WeightView<Device>{};
    Twin x(gpu(), c.rows, c.in, ++seed), y(gpu(), c.rows, c.out, std::vector<float>(c.rows * c.out));
    cpu_.linear(y.cpu(), x.cpu(), w.view, c.bias ? b.view : WeightView<Host>{});
    gpu().linear(y.gpu(), x.gpu(), dw, db);
    EXPECT_LE(y.error(gpu()), op_tolerance)
        << dtype_name(c.dtype) << " " << c.rows << "x" << c.in << "->" << c.out;
  }
}

TEST_F(CudaOps, LinearOnStridedViews) {
  auto w = make_weight(DType::bf16, {29, 41}, 30);
  const auto dw = gpu().upload(w.view);
  Twin x(gpu(), 9, 100, 31), y(gpu(), 9, 80, 32);
  cpu_.linear(y.cpu().col_range(7, 29), x.cpu().col_range(13, 41), w.view);
  gpu().linear(y.gpu().col_range(7, 29), x.gpu().col_range(13, 41), dw);
  EXPECT_LE(y.error(gpu()), op_tolerance);
}

TEST_F(CudaOps, LinearSpanningSeveralDecodeBlocks) {
  // 4099 x 4097 bf16 elements exceed one 2^24-element decode block.
  auto w = make_weight(DType::bf16, {4099, 4097}, 33, 0.02f);
  const auto dw = gpu().upload(w.view);
  Twin x(gpu(), 3, 4097, 34), y(gpu(), 3, 4099, std::vector<float>(3 * 4099));
  cpu_.linear(y.cpu(), x.cpu(), w.view);
  gpu().linear(y.gpu(), x.gpu(), dw);
  EXPECT_LE(y.error(gpu()), op_tolerance);
}

/// Raw bytes with a host view over them (for quantised and transposed storage).
struct RawWeight {
  std::vector<std::byte> data, scales;
  WeightView<Host> view;
};

RawWeight random_bytes_weight(std::int64_t bytes, std::uint32_t seed) {
  RawWeight w;
  std::mt19937 rng(seed);
  w.data.resize(std::size_t(bytes));
  for (auto& b : w.data) b = std::byte(rng() & 0xff);
  return w;
}

/// FP8 e4m3 [n, k] with fp32 scales per block x block tile (no NaN codes).
RawWeight fp8_block_weight(std::int64_t n, std::int64_t k, int block, std::uint32_t seed) {
  RawWeight w = random_bytes_weight(n * k, seed);
  for (auto& b : w.data)
    if ((std::uint8_t(b) & 0x7f) == 0x7f) b = std::byte(0x3c);
  const std::int64_t sr = (n + block - 1) / block, sc = (k + block - 1) / block;
  std::vector<float> s(std::size_t(sr * sc));
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> dist(0.001f, 0.05f);
  for (auto& v : s) v = dist(rng);
  w.scales.resize(s.size() * 4);
  std::memcpy(w.scales.data(), s.data(), w.scales.size());
  w.view.dtype = DType::f8_e4m3;
  w.view.rank = 2;
  w.view.shape = {n, k, 0, 0};
  w.view.data = w.data.data();
  w.view.quant = Quant::fp8_block;
  w.view.block = block;
  w.view.scales = w.scales.data();
  w.view.scale_ld = sc;
  return w;
}

/// MXFP4 [n, k] (k a multiple of 32): two e2m1 values a byte, an e8m0 scale per 32.
RawWeight mxfp4_weight(std::int64_t n, std::int64_t k, std::uint32_t seed) {
  RawWeight w = random_bytes_weight(n * k / 2, seed);
  std::mt19937 rng(seed + 1);
  w.scales.resize(std::size_t(n * k / 32));
  for (auto& b : w.scales) b = std::byte(118 + rng() % 10);  // 2^-9 .. 2^0
  w.view.dtype = DType::u8;
  w.view.rank = 2;
  w.view.shape = {n, k, 0, 0};
  w.view.data = w.data.data();
  w.view.quant = Quant::mxfp4;
  w.view.ld = k;
  w.view.scales = w.scales.data();
  w.view.scale_ld = k / 32;
  return w;
}

TEST_F(CudaOps, LinearReadsEveryStoredLayout) {
  const std::int64_t n = 45, k = 96, rows = 13;
  std::uint32_t seed = 400;
  auto stacked = make_weight(DType::bf16, {2 * n, k}, ++seed);               // [2N, K]
  auto in_out = make_weight(DType::bf16, {k, 2 * n}, ++seed);                // stored [K, 2N]
  WeightView<Host> transposed = in_out.view;
  transposed.shape = {2 * n, k, 0, 0};
  transposed.transposed = true;
  transposed.ld = 2 * n;
  auto f32 = make_weight(DType::f32, {n + 3, k}, ++seed);
  auto f8 = random_bytes_weight(n * k, ++seed);
  for (auto& b : f8.data)
    if ((std::uint8_t(b) & 0x7f) == 0x7f) b = std::byte(0x01);
  f8.view.dtype = DType::f8_e4m3;
  f8.view.rank = 2;
  f8.view.shape = {n, k, 0, 0};
  f8.view.data = f8.data.data();
  auto fp8 = fp8_block_weight(2 * n, k, 16, ++seed);
  auto fp4 = mxfp4_weight(2 * n, k, ++seed);

  struct Case {
    const char* what;
    WeightView<Host> host;
  };
  const Case cases[] = {
      {"bf16 odd rows (interleaved gate/up)", stacked.view.rows(1, n, 2)},
      {"bf16 transposed, first half", transposed.rows(0, n)},
      {"bf16 transposed, second half", transposed.rows(n, n)},
      {"f32 rows 3..", f32.view.rows(3, n)},
      {"plain f8_e4m3", f8.view},
      {"fp8 blocks, rows 5..", fp8.view.rows(5, n)},
      {"mxfp4 even rows", fp4.view.rows(0, n, 2)},
      {"mxfp4 rows 7..", fp4.view.rows(7, n)},
  };
  Twin x(gpu(), rows, k, ++seed);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Twin y(gpu(), rows, n, std::vector<float>(std::size_t(rows * n)));
    cpu_.linear(y.cpu(), x.cpu(), c.host);
    gpu().linear(y.gpu(), x.gpu(), gpu().upload(c.host));
    EXPECT_LE(y.error(gpu()), op_tolerance);
  }
  // Row selections of weights already on the device (the MXFP4 expert layout does this).
  const struct {
    const char* what;
    WeightView<Host> whole;
    std::int64_t first, step;
  } device_rows[] = {{"device rows of mxfp4", fp4.view, 1, 2},
                     {"device rows of fp8 blocks", fp8.view, 20, 1},
                     {"device rows of f32", f32.view, 2, 1},
                     {"device rows of bf16", stacked.view, 1, 2}};
  for (const auto& c : device_rows) {
    SCOPED_TRACE(c.what);
    const auto whole = gpu().upload(c.whole);
    Twin y(gpu(), rows, n, std::vector<float>(std::size_t(rows * n)));
    cpu_.linear(y.cpu(), x.cpu(), c.whole.rows(c.first, n, c.step));
    gpu().linear(y.gpu(), x.gpu(), whole.rows(c.first, n, c.step));
    EXPECT_LE(y.error(gpu()), op_tolerance);
  }
}

// --- rope -------------------------------------------------------------------------------------

TEST_F(CudaOps, RopeBothLayoutsPartialAndScaled) {
  struct Case {
    cfg::RopeLayout layout;
    int heads, head_dim, rotary_dim;
    float factor;
  };
  const Case cases[] = {{cfg::RopeLayout::half_split, 5, 64, 64, 1.0f},
                        {cfg::RopeLayout::interleaved, 3, 80, 80, 1.2f},
                        {cfg::RopeLayout::half_split, 2, 96, 32, 1.0f},
                        {cfg::RopeLayout::interleaved, 7, 18, 18, 0.9f}};
  std::uint32_t seed = 40;
  for (const auto& c : cases) {
    RopeTable table{layers::default_inv_freq(1e6, c.rotary_dim), c.factor, c.layout};
    Twin x(gpu(), 37, std::int64_t(c.heads) * c.head_dim, ++seed);
    std::vector<int> pos(37);
    for (int i = 0; i < 37; ++i) pos[i] = (i * 977) % 30011;
    const PositionsTwin p(gpu(), pos);
    cpu_.rope(x.cpu(), c.heads, c.head_dim, p.cpu(), cpu_.prepare_rope(table));
    gpu().rope(x.gpu(), c.heads, c.head_dim, p.gpu(), gpu().prepare_rope(table));
    EXPECT_LE(x.error(gpu()), op_tolerance) << c.head_dim << " " << c.rotary_dim;
  }
}

// --- attention and the KV cache ---------------------------------------------------------------

struct AttentionCase {
  const char* what;
  int heads, kv_heads, head_dim;
  cfg::Mixer mixer;
  int window;
  bool sinks;
  std::int64_t prefix, chunk;  // tokens already cached, tokens of this chunk
};

TEST_F(CudaOps, AttentionMasksSinksFreedWindowPagesAndStore) {
  const AttentionCase cases[] = {
      {"full prefill", 4, 2, 16, cfg::Mixer::full, 0, false, 0, 37},
      {"full decode", 6, 2, 64, cfg::Mixer::full, 0, false, 53, 1},
      {"full chunk after prefix", 8, 1, 128, cfg::Mixer::full, 0, false, 29, 11},
      {"sliding prefill", 4, 4, 32, cfg::Mixer::sliding, 7, false, 0, 37},
      {"sliding decode, early pages freed", 4, 2, 32, cfg::Mixer::sliding, 8, true, 45, 1},
      {"sliding chunk, early pages freed", 2, 1, 80, cfg::Mixer::sliding, 16, true, 21, 19},
      {"chunked prefill", 3, 1, 48, cfg::Mixer::chunked, 8, false, 0, 37},
      {"chunked decode, early pages freed", 3, 3, 48, cfg::Mixer::chunked, 8, false, 30, 1},
      {"sinks, full", 8, 2, 64, cfg::Mixer::full, 0, true, 10, 13},
      {"head dim 256", 2, 1, 256, cfg::Mixer::no_rope, 0, false, 5, 9},
  };
  std::uint32_t seed = 60;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::int64_t width = std::int64_t(c.kv_heads) * c.head_dim;
    KvTwin cache(cpu_, gpu(), {width, width, c.mixer, c.window});
    if (c.prefix > 0) {  // fill the cache through both backends' kv_store
      Twin k0(gpu(), c.prefix, width, ++seed), v0(gpu(), c.prefix, width, ++seed);
      cache.begin(c.prefix);
      cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), k0.cpu(), v0.cpu());
      gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), k0.gpu(), v0.gpu());
      cache.commit(c.prefix);
    }
    const auto sinks = random_floats(std::size_t(c.heads), ++seed);
    gpu::DeviceBuffer<float> dsinks;
    gpu().copy_from_host(dsinks, std::span<const float>(sinks));
    Twin q(gpu(), c.chunk, std::int64_t(c.heads) * c.head_dim, ++seed);
    Twin k(gpu(), c.chunk, width, ++seed), v(gpu(), c.chunk, width, ++seed);
    Twin out(gpu(), c.chunk, std::int64_t(c.heads) * c.head_dim, ++seed);
    AttentionArgs a{c.heads, c.kv_heads, c.head_dim, c.head_dim, float(1.0 / std::sqrt(double(c.head_dim))),
                    c.mixer, c.window, c.sinks ? sinks.data() : nullptr};
    cache.begin(c.chunk);
    cpu_.attention(out.cpu(), q.cpu(), k.cpu(), v.cpu(), cache.cpu_pages(), cache.cpu_batch(), a);
    a.sinks = c.sinks ? dsinks.data() : nullptr;
    gpu().attention(out.gpu(), q.gpu(), k.gpu(), v.gpu(), cache.gpu_pages(), cache.gpu_batch(), a);
    EXPECT_LE(out.error(gpu()), op_tolerance);

    cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), k.cpu(), v.cpu());
    gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), k.gpu(), v.gpu());
    const std::int64_t rows = cache.storage_rows();
    std::vector<float> gk(std::size_t(rows * width)), gv(gk.size());
    gpu().copy_to_host(std::span<float>(gk), MatrixView<const float, Device>(cache.gpu_pages().k, rows, width));
    gpu().copy_to_host(std::span<float>(gv), MatrixView<const float, Device>(cache.gpu_pages().v, rows, width));
    EXPECT_TRUE(std::equal(gk.begin(), gk.end(), cache.cpu_pages().k)) << "keys in the pages";
    EXPECT_TRUE(std::equal(gv.begin(), gv.end(), cache.cpu_pages().v)) << "values in the pages";
  }
}

TEST_F(CudaOps, KvStoreRejectsRowsThatDoNotMatchTheBatchLikeTheCpu) {
  KvTwin cache(cpu_, gpu(), {8, 8, cfg::Mixer::full, 0});
  cache.begin(2);
  Twin k(gpu(), 3, 8, 90), v(gpu(), 3, 8, 91);
  EXPECT_THROW(cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), k.cpu(), v.cpu()), Error);
  EXPECT_THROW(gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), k.gpu(), v.gpu()), Error);
}

// --- router -----------------------------------------------------------------------------------

TEST_F(CudaOps, RouteTopkEveryScoringRule) {
  const cfg::TopK routers[] = {
      {.experts = 8, .active = 2},                                              // Mixtral
      {.experts = 128, .active = 8},                                            // Qwen3-MoE
      {.experts = 37, .active = 3, .renormalize = false},
      {.experts = 32, .active = 4, .score_after_topk = true, .bias = true},     // GPT-OSS
      {.experts = 16, .active = 1, .score = cfg::Score::sigmoid, .renormalize = false,
       .weight_input = true},                                                   // Llama 4
      {.experts = 200, .active = 6, .score = cfg::Score::sigmoid},
  };
  std::uint32_t seed = 100;
  for (const auto& r : routers) {
    SCOPED_TRACE(std::to_string(r.experts) + " experts, top " + std::to_string(r.active));
    const std::int64_t t = 37;
    Twin logits(gpu(), t, r.experts, ++seed, 2.0f);
    std::vector<int> cids(std::size_t(t * r.active));
    Twin w(gpu(), t, r.active, std::vector<float>(std::size_t(t * r.active)));
    gpu::DeviceBuffer<int> gids;
    cpu_.route_topk(MatrixView<int, Host>(cids.data(), t, r.active), w.cpu(), logits.cpu(), r);
    gpu().route_topk(gpu().matrix(gids, t, r.active), w.gpu(), logits.gpu(), r);
    std::vector<int> got(cids.size());
    gpu().copy_to_host(std::span<int>(got), MatrixView<const int, Device>(gids.data(), t, r.active));
    EXPECT_EQ(got, cids);
    EXPECT_LE(w.error(gpu()), op_tolerance);
  }
}

TEST_F(CudaOps, RouteTopkBreaksTiesTowardTheLowerIndex) {
  const cfg::TopK r{.experts = 300, .active = 5};
  std::vector<float> l(300, 0.5f);
  l[7] = l[250] = l[3] = 2.0f;  // three-way tie at the top, the rest tied below
  Twin logits(gpu(), 1, 300, l);
  Twin w(gpu(), 1, 5, std::vector<float>(5));
  gpu::DeviceBuffer<int> gids;
  gpu().route_topk(gpu().matrix(gids, 1, 5), w.gpu(), logits.gpu(), r);
  std::vector<int> got(5);
  gpu().copy_to_host(std::span<int>(got), MatrixView<const int, Device>(gids.data(), 1, 5));
  EXPECT_EQ(got, (std::vector<int>{3, 7, 250, 0, 1}));
}

// --- FFNs and experts -------------------------------------------------------------------------

struct FfnWeights {
  HostWeight gate, up, down, gate_bias, up_bias, down_bias;
  ExpertWeights<Host> host() const {
    return {gate.view, up.view, down.view, gate_bias.view, up_bias.view, down_bias.view};
  }
  ExpertWeights<Device> upload(gpu::Backend& be) const {
    return {be.upload(gate.view), be.upload(up.view), be.upload(down.view),
            be.upload(gate_bias.view), be.upload(up_bias.view), be.upload(down_bias.view)};
  }
};

FfnWeights make_ffn(DType dt, std::int64_t hidden, const cfg::SwiGlu& f, std::uint32_t seed) {
  FfnWeights w;
  w.gate = make_weight(dt, {f.intermediate, hidden}, seed + 1);
  w.up = make_weight(dt, {f.intermediate, hidden}, seed + 2);
  w.down = make_weight(dt, {hidden, f.intermediate}, seed + 3);
  if (f.bias) {
    w.gate_bias = make_weight(DType::bf16, {f.intermediate}, seed + 4);
    w.up_bias = make_weight(DType::bf16, {f.intermediate}, seed + 5);
    w.down_bias = make_weight(DType::bf16, {hidden}, seed + 6);
  }
  return w;
}

TEST_F(CudaOps, GatedFfnPlainBiasedAndClamped) {
  const cfg::SwiGlu ffns[] = {{.intermediate = 45},
                              {.intermediate = 96, .bias = true, .clamp = 7.0f, .alpha = 1.702f}};
  std::uint32_t seed = 200;
  for (DType dt : {DType::f32, DType::bf16})
    for (const auto& f : ffns) {
      const auto w = make_ffn(dt, 67, f, seed += 10);
      const auto dw = w.upload(gpu());
      Twin x(gpu(), 37, 67, ++seed), out(gpu(), 37, 67, std::vector<float>(37 * 67));
      cpu_.gated_ffn(out.cpu(), x.cpu(), w.host(), f);
      gpu().gated_ffn(out.gpu(), x.gpu(), dw, f);
      EXPECT_LE(out.error(gpu()), op_tolerance) << dtype_name(dt) << " I=" << f.intermediate;
    }
}

struct MoeCase {
  const char* what;
  DType dtype;
  std::int64_t tokens, hidden;
  cfg::TopK router;
  cfg::SwiGlu expert;
  bool input_scale;
};

TEST_F(CudaOps, MoeExpertsGroupOnTheDeviceAndSumInAscendingExpertOrder) {
  const MoeCase cases[] = {
      {"bf16 top-3 of 13", DType::bf16, 37, 67, {.experts = 13, .active = 3}, {.intermediate = 45}, false},
      {"f32 top-2 of 8, decode", DType::f32, 1, 64, {.experts = 8, .active = 2}, {.intermediate = 96}, false},
      {"bf16 top-8 of 64, many rows", DType::bf16, 150, 96, {.experts = 64, .active = 8}, {.intermediate = 40}, false},
      {"f16 biased and clamped", DType::f16, 23, 48,
       {.experts = 6, .active = 4, .score_after_topk = true},
       {.intermediate = 33, .bias = true, .clamp = 7.0f, .alpha = 1.702f}, false},
      {"bf16 input-scaled top-1", DType::bf16, 29, 40,
       {.experts = 5, .active = 1, .score = cfg::Score::sigmoid, .renormalize = false, .weight_input = true},
       {.intermediate = 24}, true},
  };
  std::uint32_t seed = 300;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<FfnWeights> experts;
    std::vector<ExpertWeights<Host>> cpu_experts;
    std::vector<ExpertWeights<Device>> gpu_experts;
    for (int e = 0; e < c.router.experts; ++e) experts.push_back(make_ffn(c.dtype, c.hidden, c.expert, seed += 10));
    for (const auto& e : experts) {
      cpu_experts.push_back(e.host());
      gpu_experts.push_back(e.upload(gpu()));
    }
    const std::int64_t t = c.tokens, k = c.router.active;
    Twin logits(gpu(), t, c.router.experts, ++seed, 2.0f);
    std::vector<int> ids(std::size_t(t * k));
    Twin weights(gpu(), t, k, std::vector<float>(std::size_t(t * k)));
    cpu_.route_topk(MatrixView<int, Host>(ids.data(), t, k), weights.cpu(), logits.cpu(), c.router);
    // The same routing for both backends (route_topk itself is tested above).
    gpu::DeviceBuffer<int> gids;
    gpu().copy_from_host(gids, std::span<const int>(ids));
    gpu().copy_from_host(weights.device, std::span<const float>(weights.host));

    Twin x(gpu(), t, c.hidden, ++seed), out(gpu(), t, c.hidden, ++seed);
    const auto cpu_prepared = cpu_.prepare_experts(cpu_experts, c.hidden, c.expert);
    const auto gpu_prepared = gpu().prepare_experts(gpu_experts, c.hidden, c.expert);
    const Routing<Device> routing{MatrixView<const int, Device>(gids.data(), t, k), weights.gpu()};
    cpu_.moe_experts(out.cpu(), x.cpu(), {MatrixView<const int, Host>(ids.data(), t, k), weights.cpu()},
                     cpu_prepared, c.expert, c.input_scale);
    gpu().moe_experts(out.gpu(), x.gpu(), routing, gpu_prepared, c.expert, c.input_scale);
    EXPECT_LE(out.error(gpu()), op_tolerance);

    // Deterministic: the same call again gives the same bits.
    const auto first = out.download(gpu());
    gpu().moe_experts(out.gpu(), x.gpu(), routing, gpu_prepared, c.expert, c.input_scale);
    EXPECT_EQ(out.download(gpu()), first);
  }
}

TEST_F(CudaOps, MoeExpertsOnMxfp4RowsOfStackedTensorsWithBiases) {
  // GPT-OSS's layout: gate/up interleaved rows of one [E*2I, H] MXFP4 tensor, down rows of one
  // [E*H, I] tensor, fp32 biases, the clamped activation, softmax after top-k.
  const std::int64_t e_count = 5, h = 64, inter = 32, t = 19;
  const cfg::TopK router{.experts = 5, .active = 2, .score_after_topk = true};
  const cfg::SwiGlu f{.intermediate = 32, .bias = true, .clamp = 7.0f, .alpha = 1.702f};
  auto gate_up = mxfp4_weight(e_count * 2 * inter, h, 500);
  auto down = mxfp4_weight(e_count * h, inter, 502);
  const auto d_gate_up = gpu().upload(gate_up.view), d_down = gpu().upload(down.view);
  std::vector<std::vector<float>> biases;
  for (int i = 0; i < 3 * e_count; ++i)
    biases.push_back(random_floats(std::size_t(i % 3 == 2 ? h : inter), 510 + i));
  auto vector_view = [](const std::vector<float>& v) {
    WeightView<Host> w;
    w.dtype = DType::f32;
    w.rank = 1;
    w.shape[0] = std::int64_t(v.size());
    w.data = reinterpret_cast<const std::byte*>(v.data());
    return w;
  };
  std::vector<ExpertWeights<Host>> cpu_experts;
  std::vector<ExpertWeights<Device>> gpu_experts;
  for (std::int64_t e = 0; e < e_count; ++e) {
    ExpertWeights<Host> c;
    c.gate = gate_up.view.rows(e * 2 * inter, inter, 2);
    c.up = gate_up.view.rows(e * 2 * inter + 1, inter, 2);
    c.down = down.view.rows(e * h, h);
    c.gate_bias = vector_view(biases[3 * e]);
    c.up_bias = vector_view(biases[3 * e + 1]);
    c.down_bias = vector_view(biases[3 * e + 2]);
    cpu_experts.push_back(c);
    ExpertWeights<Device> g;
    g.gate = d_gate_up.rows(e * 2 * inter, inter, 2);
    g.up = d_gate_up.rows(e * 2 * inter + 1, inter, 2);
    g.down = d_down.rows(e * h, h);
    for (auto [dst, i] : {std::pair{&g.gate_bias, 0}, std::pair{&g.up_bias, 1}, std::pair{&g.down_bias, 2}})
      *dst = gpu().own(biases[3 * e + i]);
    gpu_experts.push_back(g);
  }
  Twin logits(gpu(), t, e_count, 520, 2.0f);
  std::vector<int> ids(std::size_t(t * router.active));
  Twin weights(gpu(), t, router.active, std::vector<float>(ids.size()));
  cpu_.route_topk(MatrixView<int, Host>(ids.data(), t, router.active), weights.cpu(), logits.cpu(), router);
  gpu::DeviceBuffer<int> gids;
  gpu().copy_from_host(gids, std::span<const int>(ids));
  gpu().copy_from_host(weights.device, std::span<const float>(weights.host));
  Twin x(gpu(), t, h, 521), out(gpu(), t, h, 522);
  cpu_.moe_experts(out.cpu(), x.cpu(), {MatrixView<const int, Host>(ids.data(), t, router.active), weights.cpu()},
                   cpu_.prepare_experts(cpu_experts, h, f), f, false);
  gpu().moe_experts(out.gpu(), x.gpu(), {MatrixView<const int, Device>(gids.data(), t, router.active), weights.gpu()},
                    gpu().prepare_experts(gpu_experts, h, f), f, false);
  EXPECT_LE(out.error(gpu()), op_tolerance);
}

// --- DeepSeek-V3: partial RoPE, latent attention, grouped routing -----------------------------

TEST_F(CudaOps, RopePartRotatesASliceOfEachHead) {
  struct Case {
    const char* what;
    cfg::RopeLayout layout;
    int heads, head_stride, offset, rotary_dim;
    float factor;
  };
  const Case cases[] = {
      {"q rope parts, interleaved, YaRN-scaled", cfg::RopeLayout::interleaved, 5, 24, 16, 8, 1.3f},
      {"latent k_pe (one head)", cfg::RopeLayout::interleaved, 1, 72, 40, 32, 1.0f},
      {"half split, slice in the middle", cfg::RopeLayout::half_split, 3, 50, 10, 20, 0.8f},
  };
  std::uint32_t seed = 700;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    RopeTable table{layers::default_inv_freq(1e4, c.rotary_dim), c.factor, c.layout};
    const std::int64_t t = 29;
    Twin x(gpu(), t, std::int64_t(c.heads) * c.head_stride, ++seed);
    const auto before = x.host;
    std::vector<int> pos(static_cast<std::size_t>(t));
    for (int i = 0; i < t; ++i) pos[std::size_t(i)] = (i * 613) % 9001;
    const PositionsTwin p(gpu(), pos);
    cpu_.rope_part(x.cpu(), c.heads, c.head_stride, c.offset, p.cpu(), cpu_.prepare_rope(table));
    gpu().rope_part(x.gpu(), c.heads, c.head_stride, c.offset, p.gpu(), gpu().prepare_rope(table));
    const auto got = x.download(gpu());
    EXPECT_LE(relative_error(got, x.host), op_tolerance);
    // Dims outside [offset, offset + rotary_dim) of each head are untouched.
    for (std::int64_t r = 0; r < t; ++r)
      for (int h = 0; h < c.heads; ++h)
        for (int d = 0; d < c.head_stride; ++d) {
          if (d >= c.offset && d < c.offset + c.rotary_dim) continue;
          const std::size_t i = std::size_t(r * c.heads * c.head_stride + h * c.head_stride + d);
          ASSERT_EQ(got[i], before[i]) << "row " << r << " head " << h << " dim " << d;
        }
  }
}

struct MlaCase {
  const char* what;
  int heads, nope, rope, v, rank;
  std::int64_t prefix, chunk;  // positions already cached, tokens of this chunk
  bool absorbed;
  int kv_b;  // 0: f32, 1: bf16, 2: FP8 blocks of 16
};

TEST_F(CudaOps, MlaAttentionExpandedAndAbsorbedOverTheLatentCache) {
  const MlaCase cases[] = {
      {"prefill, expanded, f32", 3, 16, 8, 12, 40, 0, 13, false, 0},
      {"prefill, absorbed, bf16", 3, 16, 8, 12, 40, 0, 13, true, 1},
      {"chunk after a prefix, expanded, FP8 blocks", 4, 16, 8, 16, 32, 9, 7, false, 2},
      {"chunk after a prefix, absorbed, FP8 blocks", 4, 16, 8, 16, 32, 9, 7, true, 2},
      {"decode, absorbed, bf16", 2, 24, 16, 20, 48, 21, 1, true, 1},
      {"decode, expanded, bf16", 2, 24, 16, 20, 48, 21, 1, false, 1},
      {"DeepSeek-V3 head dims, decode, absorbed", 2, 128, 64, 128, 512, 5, 1, true, 1},
      {"DeepSeek-V3 head dims, prefill, expanded", 2, 128, 64, 128, 512, 0, 6, false, 1},
  };
  std::uint32_t seed = 720;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::int64_t width = c.rank + c.rope, qk = c.nope + c.rope, hv = c.nope + c.v;
    KvTwin cache(cpu_, gpu(), {width, 0, cfg::Mixer::full, 0});
    if (c.prefix > 0) {  // fill the cache through both backends' kv_store (no values)
      Twin l0(gpu(), c.prefix, width, ++seed);
      cache.begin(c.prefix);
      cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), l0.cpu(), l0.cpu());
      gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), l0.gpu(), l0.gpu());
      cache.commit(c.prefix);
    }
    const std::int64_t kv_rows = std::int64_t(c.heads) * hv;
    HostWeight plain;
    RawWeight fp8;
    WeightView<Host> kv_b;
    if (c.kv_b == 2) {
      fp8 = fp8_block_weight(kv_rows, c.rank, 16, ++seed);
      kv_b = fp8.view;
    } else {
      plain = make_weight(c.kv_b == 0 ? DType::f32 : DType::bf16, {kv_rows, c.rank}, ++seed);
      kv_b = plain.view;
    }
    Twin q(gpu(), c.chunk, std::int64_t(c.heads) * qk, ++seed);
    Twin latent(gpu(), c.chunk, width, ++seed);
    Twin out(gpu(), c.chunk, std::int64_t(c.heads) * c.v, ++seed);
    const MlaArgs a{c.heads, c.nope, c.rope, c.v, c.rank, float(1.0 / std::sqrt(double(qk))), c.absorbed};
    cache.begin(c.chunk);
    cpu_.mla_attention(out.cpu(), q.cpu(), latent.cpu(), cache.cpu_pages(), cache.cpu_batch(), kv_b, a);
    gpu().mla_attention(out.gpu(), q.gpu(), latent.gpu(), cache.gpu_pages(), cache.gpu_batch(), gpu().upload(kv_b), a);
    EXPECT_LE(out.error(gpu()), op_tolerance);

    cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), latent.cpu(), latent.cpu());
    gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), latent.gpu(), latent.gpu());
    const std::int64_t rows = cache.storage_rows();
    std::vector<float> gk(std::size_t(rows * width));
    gpu().copy_to_host(std::span<float>(gk), MatrixView<const float, Device>(cache.gpu_pages().k, rows, width));
    EXPECT_TRUE(std::equal(gk.begin(), gk.end(), cache.cpu_pages().k)) << "latents in the pages";
  }
}

TEST_F(CudaOps, MlaAttentionReadsStridedChunkViews) {
  // The layer passes row ranges of [T, ...] workspaces (one chunk of a batch); latents are
  // columns of a wider matrix here, so every stride differs from its width.
  const int heads = 2, nope = 8, rope = 4, v = 6, rank = 16;
  const std::int64_t width = rank + rope, prefix = 5, n = 4;
  KvTwin cache(cpu_, gpu(), {width, 0, cfg::Mixer::full, 0});
  Twin l0(gpu(), prefix, width, 760);
  cache.begin(prefix);
  cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), l0.cpu(), l0.cpu());
  gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), l0.gpu(), l0.gpu());
  cache.commit(prefix);
  cache.begin(n);
  auto kv_b = make_weight(DType::bf16, {heads * (nope + v), rank}, 761);
  Twin q(gpu(), n, heads * (nope + rope) + 3, 762);
  Twin latent(gpu(), n, width + 5, 763);
  Twin out(gpu(), n, heads * v + 2, 764);
  for (bool absorbed : {false, true}) {
    SCOPED_TRACE(absorbed ? "absorbed" : "expanded");
    const MlaArgs a{heads, nope, rope, v, rank, 0.25f, absorbed};
    cpu_.mla_attention(out.cpu().col_range(1, heads * v), q.cpu().col_range(2, heads * (nope + rope)),
                       latent.cpu().col_range(3, width), cache.cpu_pages(), cache.cpu_batch(), kv_b.view, a);
    gpu().mla_attention(out.gpu().col_range(1, heads * v), q.gpu().col_range(2, heads * (nope + rope)),
                        latent.gpu().col_range(3, width), cache.gpu_pages(), cache.gpu_batch(), gpu().upload(kv_b.view), a);
    const auto got = out.download(gpu());
    for (std::int64_t r = 0; r < n; ++r) {
      EXPECT_EQ(got[std::size_t(r * out.cols)], out.host[std::size_t(r * out.cols)]) << "column 0 untouched";
      EXPECT_EQ(got[std::size_t(r * out.cols + out.cols - 1)], out.host[std::size_t(r * out.cols + out.cols - 1)]);
    }
    EXPECT_LE(relative_error(got, out.host), op_tolerance);
  }
}

TEST_F(CudaOps, RouteGroupedTopkEveryOption) {
  struct Case {
    const char* what;
    cfg::GroupedTopK r;
    bool bias;
  };
  const Case cases[] = {
      {"DeepSeek-V3", {.experts = 256, .active = 8, .groups = 8, .groups_active = 4,
                       .score = cfg::Score::sigmoid, .renormalize = true, .routed_scale = 2.5f,
                       .correction_bias = true}, true},
      {"the tiny twin", {.experts = 16, .active = 4, .groups = 4, .groups_active = 2,
                         .score = cfg::Score::sigmoid, .renormalize = true, .routed_scale = 2.5f,
                         .correction_bias = true}, true},
      {"no bias, no renormalisation", {.experts = 60, .active = 5, .groups = 6, .groups_active = 3,
                                       .score = cfg::Score::sigmoid, .renormalize = false,
                                       .routed_scale = 1.0f, .correction_bias = false}, false},
      {"one group, raw logits", {.experts = 37, .active = 3, .groups = 1, .groups_active = 1,
                                 .score = cfg::Score::softmax, .renormalize = true,
                                 .routed_scale = 1.5f, .correction_bias = false}, false},
      {"more groups than threads", {.experts = 320, .active = 6, .groups = 160, .groups_active = 7,
                                    .score = cfg::Score::sigmoid, .renormalize = true,
                                    .routed_scale = 1.0f, .correction_bias = true}, true},
      {"every expert of the kept groups", {.experts = 12, .active = 6, .groups = 4, .groups_active = 2,
                                           .score = cfg::Score::sigmoid, .renormalize = true,
                                           .routed_scale = 1.0f, .correction_bias = true}, true},
  };
  std::uint32_t seed = 800;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto& r = c.r;
    const std::int64_t t = 37;
    Twin logits(gpu(), t, r.experts, ++seed, 2.0f);
    const auto bias = random_floats(std::size_t(r.experts), ++seed, 0.5f);
    gpu::DeviceBuffer<float> dbias;
    gpu().copy_from_host(dbias, std::span<const float>(bias));
    std::vector<int> cids(std::size_t(t * r.active));
    Twin w(gpu(), t, r.active, std::vector<float>(std::size_t(t * r.active)));
    gpu::DeviceBuffer<int> gids;
    cpu_.route_grouped_topk(MatrixView<int, Host>(cids.data(), t, r.active), w.cpu(), logits.cpu(),
                            c.bias ? VectorView<const float, Host>{bias.data(), r.experts} : VectorView<const float, Host>{}, r);
    gpu().route_grouped_topk(gpu().matrix(gids, t, r.active), w.gpu(), logits.gpu(),
                             c.bias ? VectorView<const float, Device>{dbias.data(), r.experts}
                                    : VectorView<const float, Device>{},
                             r);
    std::vector<int> got(cids.size());
    gpu().copy_to_host(std::span<int>(got), MatrixView<const int, Device>(gids.data(), t, r.active));
    EXPECT_EQ(got, cids);
    EXPECT_LE(w.error(gpu()), op_tolerance);
  }
}

TEST_F(CudaOps, RouteGroupedTopkBreaksTiesTowardTheLowerIndex) {
  // Row 0: every logit equal, so the lower groups (0, 1) and then the lower experts win. Row 1:
  // group 3 holds the best pair and group 2 the next; tied experts come in index order.
  const cfg::GroupedTopK r{.experts = 16, .active = 3, .groups = 4, .groups_active = 2,
                           .score = cfg::Score::sigmoid, .renormalize = true, .routed_scale = 1.0f,
                           .correction_bias = false};
  std::vector<float> l(32, 0.0f);
  l[16 + 13] = l[16 + 14] = 1.0f;
  l[16 + 9] = l[16 + 10] = 0.5f;
  Twin logits(gpu(), 2, 16, l);
  std::vector<int> cids(6);
  Twin w(gpu(), 2, 3, std::vector<float>(6));
  gpu::DeviceBuffer<int> gids;
  cpu_.route_grouped_topk(MatrixView<int, Host>(cids.data(), 2, 3), w.cpu(), logits.cpu(), {}, r);
  gpu().route_grouped_topk(gpu().matrix(gids, 2, 3), w.gpu(), logits.gpu(), {}, r);
  std::vector<int> got(6);
  gpu().copy_to_host(std::span<int>(got), MatrixView<const int, Device>(gids.data(), 2, 3));
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 13, 14, 9}));
  EXPECT_EQ(got, cids);
  EXPECT_LE(w.error(gpu()), op_tolerance);
}

}  // namespace

// Op tests kept in their own files, same TU (see tests/cuda/CMakeLists.txt on compile time).
#include "ops/decode_attention_tests.hpp"
#include "ops/gemv_tests.hpp"
#include "ops/gemm_lt_tests.hpp"
#include "ops/mla_decode_tests.hpp"
#include "ops/moe_decode_tests.hpp"
#include "ops/prefill_attention_tests.hpp"
#include "ops/sampling_tests.hpp"
#include "ops/vision_tests.hpp"
#include "ops/step_attention_tests.hpp"
