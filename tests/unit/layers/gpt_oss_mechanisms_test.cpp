// SPDX-License-Identifier: Apache-2.0
// The GPT-OSS mechanisms one at a time against naive references: attention with learned sinks
// and a sliding window (prefill, chunked prefill, and token-by-token decode through a ring cache
// smaller than the context), MXFP4 experts fused with gate/up interleaved by row, the clamped
// GLU, and YaRN inverse frequencies against values computed with transformers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <templlm/core/math.hpp>
#include <templlm/core/numeric.hpp>
#include <templlm/core/thread_pool.hpp>
#include <templlm/kernels/cpu/attention.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/layers/kv_pool.hpp>
#include <templlm/kernels/cpu/decode.hpp>
#include <templlm/layers/moe/expert_layout.hpp>
#include <templlm/layers/rope.hpp>
#include <templlm/model/gpt_oss.hpp>
#include <vector>

#include "support/kv_host.hpp"

namespace {

using namespace templlm;

// ------------------------------------------------------------------------------------------
// Attention with sinks and a sliding window
// ------------------------------------------------------------------------------------------
constexpr int kHeads = 4, kKvHeads = 2, kDim = 8, kTokens = 20, kWindow = 5;

struct Qkv {
  std::vector<float> q, k, v, sinks;
};

Qkv random_qkv(unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> n(0.0f, 1.5f);
  Qkv r;
  r.q.resize(kTokens * kHeads * kDim);
  r.k.resize(kTokens * kKvHeads * kDim);
  r.v.resize(kTokens * kKvHeads * kDim);
  for (auto* vec : {&r.q, &r.k, &r.v})
    for (float& x : *vec) x = n(gen);
  r.sinks = {1.5f, -0.7f, 3.0f, 0.2f};
  return r;
}

/// HF eager_attention_forward of GPT-OSS, in double: scores * scale, mask (causal, and
/// i - W < j for sliding layers), concat the sink logit, subtract the max, softmax, drop the sink.
std::vector<float> naive_attention(const Qkv& x, float scale, int window, bool use_sinks) {
  std::vector<float> out(kTokens * kHeads * kDim, 0.0f);
  const int group = kHeads / kKvHeads;
  for (int i = 0; i < kTokens; ++i)
    for (int h = 0; h < kHeads; ++h) {
      const int kvh = h / group;
      std::vector<double> z;
      std::vector<int> keys;
      for (int j = 0; j <= i; ++j) {
        if (window > 0 && !(i - window < j)) continue;
        double dot = 0;
        for (int d = 0; d < kDim; ++d)
          dot += double(x.q[(i * kHeads + h) * kDim + d]) * x.k[(j * kKvHeads + kvh) * kDim + d];
        z.push_back(dot * scale);
        keys.push_back(j);
      }
      double mx = -INFINITY;
      for (double s : z) mx = std::max(mx, s);
      if (use_sinks) mx = std::max(mx, double(x.sinks[h]));
      double denom = use_sinks ? std::exp(double(x.sinks[h]) - mx) : 0.0;
      for (double& s : z) denom += (s = std::exp(s - mx));
      for (std::size_t n = 0; n < keys.size(); ++n)
        for (int d = 0; d < kDim; ++d)
          out[(i * kHeads + h) * kDim + d] +=
              float(z[n] / denom * x.v[(keys[n] * kKvHeads + kvh) * kDim + d]);
    }
  return out;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

/// Runs cpu::attention over the tokens in chunks of `chunk` through a KV pool of pages of
/// `page` positions, the way layers::Attention does. A sliding layer's pool frees (and reuses)
/// pages that fall out of the window: reading a freed page shows as a wrong result.
std::vector<float> run_attention(const Qkv& x, float scale, cfg::Mixer mixer, int window,
                                 bool use_sinks, int chunk, int page = 4) {
  cpu::Backend be(2);
  test::OneSequenceKv<float> kv(be, {{kKvHeads * kDim, kKvHeads * kDim, mixer, window}},
                                {.page_size = page, .max_pages = 0, .rollback = 0});
  std::vector<float> out(kTokens * kHeads * kDim, -1.0f);
  for (int start = 0; start < kTokens; start += chunk) {
    const int n = std::min(chunk, kTokens - start);
    const AttentionArgs a{kHeads, kKvHeads, kDim, kDim, scale, mixer, window,
                          use_sinks ? x.sinks.data() : nullptr};
    MatrixView<float> o(out.data() + start * kHeads * kDim, n, kHeads * kDim);
    MatrixView<const float> q(x.q.data() + start * kHeads * kDim, n, kHeads * kDim);
    MatrixView<const float> k(x.k.data() + start * kKvHeads * kDim, n, kKvHeads * kDim);
    MatrixView<const float> v(x.v.data() + start * kKvHeads * kDim, n, kKvHeads * kDim);
    const KvBatch& batch = kv.begin(n);
    be.attention(o, q, k, v, kv.layer(0), batch, a);
    be.kv_store(kv.layer(0), batch, k, v);
    kv.commit(n);
  }
  return out;
}

constexpr float kScale = 0.35355339f;  // 8^-0.5

TEST(GptOssAttention, SlidingWindowWithSinksMatchesNaivePrefill) {
  const Qkv x = random_qkv(1);
  const auto want = naive_attention(x, kScale, kWindow, true);
  const auto got = run_attention(x, kScale, cfg::Mixer::sliding, kWindow, true, kTokens);
  EXPECT_LE(rel_error(got, want), 1e-6);
}

TEST(GptOssAttention, FullAttentionWithSinksMatchesNaive) {
  const Qkv x = random_qkv(2);
  const auto want = naive_attention(x, kScale, 0, true);
  const auto got = run_attention(x, kScale, cfg::Mixer::full, 0, true, kTokens);
  EXPECT_LE(rel_error(got, want), 1e-6);
  // The sinks matter: without them the result is far away.
  EXPECT_GT(rel_error(naive_attention(x, kScale, 0, false), want), 1e-2);
}

TEST(GptOssAttention, DecodeThroughPagesFreedOutsideTheWindow) {
  // Window 5, 20 positions, pages of 2 or 4 positions freed (and reused) as they leave the
  // window: token by token and in chunks of 3 and 7.
  const Qkv x = random_qkv(3);
  const auto want = naive_attention(x, kScale, kWindow, true);
  for (int page : {2, 4})
    for (int chunk : {1, 3, 7}) {
      const auto got = run_attention(x, kScale, cfg::Mixer::sliding, kWindow, true, chunk, page);
      EXPECT_LE(rel_error(got, want), 1e-6) << "chunk " << chunk << " page " << page;
    }
  // The window is "W keys including the query itself": W + 1 keys is a different result.
  EXPECT_GT(rel_error(naive_attention(x, kScale, kWindow + 1, true), want), 1e-3);
}

TEST(GptOssAttention, SlidingLayersOfTheModelHoldOnlyTheWindowsPages) {
  cpu::Backend be(1);
  using M = model::GptOssTiny;
  static_assert(M::layer(0).mixer == cfg::Mixer::sliding && M::layer(0).window == 8);
  static_assert(M::layer(1).mixer == cfg::Mixer::full);
  const std::int64_t width = M::attention.kv_heads * M::attention.head_dim;
  layers::KvPool<cpu::Backend> pool(
      be, std::vector<layers::KvLayerSpec>{{width, width, cfg::Mixer::sliding, 8}, {width, width, cfg::Mixer::full, 0}},
      {.page_size = 4, .max_pages = 0, .rollback = 4});
  ASSERT_EQ(pool.groups(), 2u);
  auto seq = pool.new_sequence(1000);
  for (int i = 0; i < 1000; ++i) {
    pool.reserve(*seq, 1);
    pool.commit(*seq, 1);
  }
  // Sliding: window 8 + rollback 4 positions, at most 4 pages of 4; full: every position.
  EXPECT_LE(pool.pages_in_use(std::size_t(pool.group_of(0))), 4);
  EXPECT_EQ(pool.pages_in_use(std::size_t(pool.group_of(1))), 250);
  // A long prefill stores only the window's pages of the sliding layer.
  auto other = pool.new_sequence(1000);
  pool.reserve(*other, 999);
  EXPECT_LE(pool.pages_in_use(std::size_t(pool.group_of(0))), 8);
}

// ------------------------------------------------------------------------------------------
// MXFP4 experts, fused, gate/up interleaved by row
// ------------------------------------------------------------------------------------------
constexpr float kFp4[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

/// A description with only what load_routed_experts reads.
struct TinyMxfp4 {
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 16, .layers = 1};
  static constexpr cfg::TopK router{.experts = 3, .active = 2};
  static constexpr cfg::SwiGlu expert{.intermediate = 32, .bias = true, .clamp = 7.0f, .alpha = 1.702f};
  static constexpr cfg::MoeNames moe_names = model::GptOss120B::moe_names;
};

/// In-memory tensors with the shape check a checkpoint does.
class MapSource : public TensorSource {
 public:
  struct Entry {
    WeightView<Host> view;
    std::vector<std::int64_t> shape;
  };
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data) {
    WeightView<Host> w;
    w.dtype = dtype;
    w.rank = int(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) w.shape[i] = shape[i];
    w.data = static_cast<const std::byte*>(data);
    map_[name] = {w, std::move(shape)};
  }
  WeightView<Host> get(std::string_view name, std::initializer_list<std::int64_t> shape) const override {
    const auto it = map_.find(std::string(name));
    if (it == map_.end()) throw TensorMismatch("missing " + std::string(name));
    if (!std::equal(shape.begin(), shape.end(), it->second.shape.begin(), it->second.shape.end()))
      throw TensorMismatch(std::string(name) + ": wrong shape");
    return it->second.view;
  }
  bool contains(std::string_view name) const override { return map_.contains(std::string(name)); }

 private:
  std::map<std::string, Entry> map_;
};

struct Mxfp4Tensor {
  std::vector<std::uint8_t> blocks, scales;
  std::int64_t rows, cols;
  /// Reference decode of physical row r, column c (HF convert_moe_packed_tensors, ldexp).
  float at(std::int64_t r, std::int64_t c) const {
    const std::uint8_t byte = blocks[std::size_t(r * cols / 2 + c / 2)];
    const int nibble = c % 2 == 0 ? byte & 0x0f : byte >> 4;
    return std::ldexp(kFp4[nibble], int(scales[std::size_t(r * cols / 32 + c / 32)]) - 127);
  }
};

Mxfp4Tensor make_mxfp4(std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937 gen(seed);
  Mxfp4Tensor t{std::vector<std::uint8_t>(std::size_t(rows * cols / 2)),
                std::vector<std::uint8_t>(std::size_t(rows * cols / 32)), rows, cols};
  // every byte value (hence every code in both nibbles) appears; scales 2^-20 .. 2^20
  for (std::size_t i = 0; i < t.blocks.size(); ++i) t.blocks[i] = std::uint8_t((i * 37 + seed) & 0xff);
  for (auto& s : t.scales) s = std::uint8_t(107 + gen() % 41);
  return t;
}

TEST(GptOssMxfp4, FusedInterleavedExpertsDecodeToTheirRows) {
  using M = TinyMxfp4;
  constexpr std::int64_t E = 3, H = 64, I = 32;
  const Mxfp4Tensor gu = make_mxfp4(E * 2 * I, H, 1), dn = make_mxfp4(E * H, I, 2);
  std::vector<std::uint16_t> gu_bias(E * 2 * I), dn_bias(E * H);
  for (std::size_t i = 0; i < gu_bias.size(); ++i) gu_bias[i] = f32_to_bf16(float(i) * 0.25f - 7.0f);
  for (std::size_t i = 0; i < dn_bias.size(); ++i) dn_bias[i] = f32_to_bf16(float(i) * -0.5f);
  MapSource src;
  const std::string p = "model.layers.0.mlp.experts.";
  src.add(p + "gate_up_proj_blocks", DType::u8, {E, 2 * I, H / 32, 16}, gu.blocks.data());
  src.add(p + "gate_up_proj_scales", DType::u8, {E, 2 * I, H / 32}, gu.scales.data());
  src.add(p + "gate_up_proj_bias", DType::bf16, {E, 2 * I}, gu_bias.data());
  src.add(p + "down_proj_blocks", DType::u8, {E, H, I / 32, 16}, dn.blocks.data());
  src.add(p + "down_proj_scales", DType::u8, {E, H, I / 32}, dn.scales.data());
  src.add(p + "down_proj_bias", DType::bf16, {E, H}, dn_bias.data());

  cpu::Backend be(1);
  const auto experts = layers::load_routed_experts<M>(be, src, "model.layers.0.mlp.");
  ASSERT_EQ(experts.size(), std::size_t(E));
  std::vector<float> row(H), bias(I), hrow(I), hbias(H);
  for (std::int64_t e = 0; e < E; ++e) {
    const auto& w = experts[std::size_t(e)];
    // Compressed views into the stored bytes, never a dequantised copy.
    EXPECT_EQ(w.gate.quant, Quant::mxfp4);
    EXPECT_EQ(w.gate.data, reinterpret_cast<const std::byte*>(gu.blocks.data()));
    EXPECT_EQ(w.down.data, reinterpret_cast<const std::byte*>(dn.blocks.data()));
    cpu::decode_vector(bias.data(), w.gate_bias);
    for (std::int64_t j = 0; j < I; ++j) {
      cpu::decode_rows(row.data(), w.gate, j, 1);  // gate unit j = output 2j
      for (std::int64_t c = 0; c < H; ++c)
        ASSERT_EQ(row[c], gu.at(e * 2 * I + 2 * j, c)) << "gate e" << e << " j" << j << " c" << c;
      cpu::decode_rows(row.data(), w.up, j, 1);  // up unit j = output 2j + 1
      for (std::int64_t c = 0; c < H; ++c)
        ASSERT_EQ(row[c], gu.at(e * 2 * I + 2 * j + 1, c)) << "up e" << e << " j" << j << " c" << c;
      EXPECT_EQ(bias[j], bf16_to_f32(gu_bias[std::size_t(e * 2 * I + 2 * j)]));
    }
    cpu::decode_vector(bias.data(), w.up_bias);
    for (std::int64_t j = 0; j < I; ++j)
      EXPECT_EQ(bias[j], bf16_to_f32(gu_bias[std::size_t(e * 2 * I + 2 * j + 1)]));
    for (std::int64_t r = 0; r < H; ++r) {
      cpu::decode_rows(hrow.data(), w.down, r, 1);
      for (std::int64_t c = 0; c < I; ++c) ASSERT_EQ(hrow[c], dn.at(e * H + r, c));
    }
    cpu::decode_vector(hbias.data(), w.down_bias);
    for (std::int64_t r = 0; r < H; ++r) EXPECT_EQ(hbias[r], bf16_to_f32(dn_bias[std::size_t(e * H + r)]));
  }
}

TEST(GptOssMxfp4, EveryCodeTimesARangeOfScales) {
  // Byte b of a 16-byte group: low nibble is column 2b, high nibble column 2b + 1.
  std::vector<std::uint8_t> blocks(16), scales(1);
  for (int hi = 0; hi < 16; ++hi)
    for (int scale = 100; scale <= 160; ++scale) {
      for (int b = 0; b < 16; ++b) blocks[b] = std::uint8_t(b | (hi << 4));
      scales[0] = std::uint8_t(scale);
      WeightView<Host> w;
      w.dtype = DType::u8;
      w.rank = 2;
      w.shape = {1, 32, 0, 0};
      w.data = reinterpret_cast<const std::byte*>(blocks.data());
      w.quant = Quant::mxfp4;
      w.ld = 32;
      w.scales = reinterpret_cast<const std::byte*>(scales.data());
      w.scale_ld = 1;
      float got[32];
      cpu::decode_rows(got, w, 0, 1);
      for (int b = 0; b < 16; ++b) {
        EXPECT_EQ(got[2 * b], std::ldexp(kFp4[b], scale - 127));
        EXPECT_EQ(got[2 * b + 1], std::ldexp(kFp4[hi], scale - 127));
        EXPECT_EQ(std::signbit(got[2 * b + 1]), hi >= 8);
      }
    }
}

// ------------------------------------------------------------------------------------------
// The clamped GLU
// ------------------------------------------------------------------------------------------
/// HF GptOssExperts._apply_gate, one element, fp32 ops as torch does them.
float hf_glu(float gate, float up) {
  const float limit = 7.0f, alpha = 1.702f;
  gate = std::min(gate, limit);
  up = std::min(std::max(up, -limit), limit);
  const float glu = gate * (1.0f / (1.0f + std::exp(-(gate * alpha))));
  return (up + 1.0f) * glu;
}

TEST(GptOssGlu, ClampedGluMatchesHf) {
  for (float gate = -12.0f; gate <= 12.0f; gate += 0.37f)
    for (float up = -12.0f; up <= 12.0f; up += 0.41f) {
      const float want = hf_glu(gate, up), got = math::clamped_swiglu(gate, up, 7.0f, 1.702f);
      EXPECT_NEAR(got, want, 2e-6f * std::max(1.0f, std::abs(want))) << gate << " " << up;
    }
}

TEST(GptOssGlu, ClampIsAsymmetric) {
  // gate clamped above only: a very negative gate is kept (and silu-like drives it to ~0)
  EXPECT_EQ(math::clamped_swiglu(9.0f, 0.0f, 7.0f, 1.702f), math::clamped_swiglu(7.0f, 0.0f, 7.0f, 1.702f));
  EXPECT_NE(math::clamped_swiglu(-3.0f, 0.0f, 7.0f, 1.702f), math::clamped_swiglu(-2.0f, 0.0f, 7.0f, 1.702f));
  EXPECT_NE(math::clamped_swiglu(-9.0f, 0.0f, 7.0f, 1.702f), math::clamped_swiglu(-7.0f, 0.0f, 7.0f, 1.702f));
  // up clamped on both sides, with the +1
  EXPECT_EQ(math::clamped_swiglu(1.0f, 9.0f, 7.0f, 1.702f), math::clamped_swiglu(1.0f, 7.0f, 7.0f, 1.702f));
  EXPECT_EQ(math::clamped_swiglu(1.0f, -9.0f, 7.0f, 1.702f), math::clamped_swiglu(1.0f, -7.0f, 7.0f, 1.702f));
  EXPECT_EQ(math::clamped_swiglu(1.0f, -1.0f, 7.0f, 1.702f), 0.0f);
  const float g = 1.0f, glu = g / (1.0f + std::exp(-1.702f));
  EXPECT_FLOAT_EQ(math::clamped_swiglu(g, 2.0f, 7.0f, 1.702f), 3.0f * glu);
}

// ------------------------------------------------------------------------------------------
// YaRN
// ------------------------------------------------------------------------------------------
// transformers 5.24.0, ROPE_INIT_FUNCTIONS["yarn"](GptOssConfig(head_dim=...)):
//   beta_fast 32, beta_slow 1, factor 32, original 4096, theta 150000, truncate False.
constexpr std::uint32_t kYarnHd16[8] = {0x3f800000, 0x3e66d3fa, 0x3d502194, 0x3bdea840,
                                        0x39ef543c, 0x37989328, 0x3689928c, 0x35781728};
constexpr std::uint32_t kYarnHd64[32] = {
    0x3f800000, 0x3f306535, 0x3ef316a2, 0x3ea77faa, 0x3e66d3fa, 0x3e1f0cfd, 0x3ddb2f9f, 0x3d970764,
    0x3d502194, 0x3d01ddd5, 0x3c9e646f, 0x3c3dec94, 0x3bdea840, 0x3b7cfe14, 0x3b093803, 0x3a89f778,
    0x39ef543c, 0x390799b9, 0x3820adc6, 0x37dd6dfc, 0x37989328, 0x375242fa, 0x3710e12c, 0x36c7a82b,
    0x3689928c, 0x363d9647, 0x3602a245, 0x35b40668, 0x35781728, 0x352af200, 0x34eb93eb, 0x34a252d3};

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

template <std::size_t N>
void expect_inv_freq(const RopeTable& t, const std::uint32_t (&want)[N]) {
  ASSERT_EQ(t.inv_freq.size(), N);
  for (std::size_t i = 0; i < N; ++i)
    EXPECT_NEAR(t.inv_freq[i], from_bits(want[i]), 2e-7 * from_bits(want[i])) << "i = " << i;
  EXPECT_FLOAT_EQ(t.attention_factor, 1.3465735902799727f);  // 0.1 ln 32 + 1
}

TEST(GptOssYarn, InvFreqMatchesTransformers) {
  expect_inv_freq(layers::rope_table(model::GptOssTiny::rope, model::GptOssTiny::attention.head_dim),
                  kYarnHd16);
  expect_inv_freq(layers::rope_table(model::GptOss120B::rope, model::GptOss120B::attention.head_dim),
                  kYarnHd64);
}

TEST(GptOssYarn, TruncateFalseMatters) {
  // With truncate (older HF), low/high are floored/ceiled and the ramp differs.
  auto r = model::GptOss120B::rope;
  r.truncate = true;
  const auto t = layers::rope_table(r, 64);
  int differ = 0;
  for (std::size_t i = 0; i < 32; ++i) differ += t.inv_freq[i] != from_bits(kYarnHd64[i]);
  EXPECT_GT(differ, 0);
}

}  // namespace
