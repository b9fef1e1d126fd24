// SPDX-License-Identifier: Apache-2.0
// DeepSeek-V3 tiny (FP8 blocks, MLA with a latent cache, grouped sigmoid routing, shared expert)
// against its transformers reference (tests/support/fixture_suite.hpp), plus unit checks of the
// pieces: grouped routing with constructed ties, absorbed == expanded MLA, FP8 edge blocks, the
// MTP layer.
#include <templlm/io/weight_source.hpp>
#include <templlm/layers/mtp.hpp>
#include <templlm/model/all.hpp>
#include <templlm/model/deepseek_v3.hpp>

#include <cstring>
#include <map>
#include <random>

#include "support/fixture_suite.hpp"
#include "support/kv_host.hpp"

namespace templlm::test {
using DeepSeek = ::testing::Types<model::DeepSeekV3Tiny>;
INSTANTIATE_TYPED_TEST_SUITE_P(DeepSeek, FixtureTest, DeepSeek);

namespace {

using Tiny = model::DeepSeekV3Tiny;
using Mla = layers::Attention<Tiny, cpu::Backend>;

cfg::GroupedTopK router_cfg(int active = 2) {
  return {.experts = 8, .active = active, .groups = 4, .groups_active = 2, .score = cfg::Score::sigmoid,
          .renormalize = true, .routed_scale = 2.5f, .correction_bias = true};
}
float logit(float p) { return std::log(p / (1.0f - p)); }

struct Routed {
  std::vector<int> ids;
  std::vector<float> w;
};
Routed route(const std::vector<float>& probs, const std::vector<float>& bias, cfg::GroupedTopK r) {
  std::vector<float> l(probs.size());
  for (std::size_t i = 0; i < l.size(); ++i) l[i] = logit(probs[i]);
  Routed out{std::vector<int>(std::size_t(r.active)), std::vector<float>(std::size_t(r.active))};
  cpu::route_grouped_topk(MatrixView<int>(out.ids.data(), 1, r.active),
                          MatrixView<float>(out.w.data(), 1, r.active),
                          MatrixView<const float>(l.data(), 1, r.experts), bias.empty() ? nullptr : bias.data(), r);
  return out;
}

}  // namespace

TEST(GroupedRouter, TiedGroupsGoToTheLowerGroupIndex) {
  // Groups {0,1} {2,3} {4,5} {6,7}: groups 1, 2 and 3 hold the same two scores (in different
  // orders), so their top-2 sums tie exactly; group 0 is worse. Two groups kept: 1 and 2, never 3.
  const std::vector<float> p = {0.1f, 0.1f, 0.6f, 0.55f, 0.55f, 0.6f, 0.6f, 0.55f};
  auto r = route(p, {}, router_cfg(4));
  std::vector<int> got = r.ids;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{2, 3, 4, 5}));
  // Experts tied across the kept groups (2 and 5): the lower index first, as torch.topk on the CPU.
  auto two = route(p, {}, router_cfg(2));
  EXPECT_EQ(two.ids, (std::vector<int>{2, 5}));
  EXPECT_FLOAT_EQ(two.w[0], two.w[1]);
}

TEST(GroupedRouter, GroupScoreIsTheSumOfTheTopTwoNotTheMax) {
  // Group 0 holds the single best expert (0.95) but a weak second; groups 1 and 2 win on sums.
  const std::vector<float> p = {0.95f, 0.05f, 0.7f, 0.7f, 0.6f, 0.6f, 0.1f, 0.1f};
  auto r = route(p, {}, router_cfg(2));
  EXPECT_EQ(r.ids, (std::vector<int>{2, 3}));  // expert 0 is masked out with its group
}

TEST(GroupedRouter, BiasSelectsButWeightsComeFromUnbiasedScores) {
  const std::vector<float> p = {0.2f, 0.3f, 0.6f, 0.5f, 0.4f, 0.45f, 0.1f, 0.1f};
  const std::vector<float> bias = {0.5f, 0.5f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  auto r = route(p, bias, router_cfg(2));
  EXPECT_EQ(r.ids, (std::vector<int>{1, 0}));  // biased: 0.8, 0.7 (group 0 first)
  EXPECT_NEAR(r.w[0], 2.5f * 0.3f / 0.5f, 1e-6);  // unbiased 0.3 / (0.3 + 0.2), scaled
  EXPECT_NEAR(r.w[1], 2.5f * 0.2f / 0.5f, 1e-6);
}

TEST(GroupedRouter, DroppedGroupsAreMaskedWithMinusInfinity) {
  // A negative biased score in a kept group still beats any expert of a dropped group (HF's
  // pinned version masks with -inf, not 0.0).
  const std::vector<float> p = {0.9f, 0.9f, 0.8f, 0.1f, 0.05f, 0.05f, 0.05f, 0.05f};
  const std::vector<float> bias = {0.f, 0.f, 0.f, -0.5f, 0.f, 0.f, 0.f, 0.f};
  auto r = route(p, bias, router_cfg(4));
  std::vector<int> got = r.ids;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Fp8Blocks, EdgeBlocksDecodeWithTheirOwnScale) {
  // [130, 200]: scales [2, 2]; row 129 / column 199 live in the partial edge blocks.
  const std::int64_t out = 130, in = 200;
  std::vector<std::uint8_t> q(std::size_t(out * in));
  std::mt19937 gen(7);
  for (auto& b : q) {
    b = std::uint8_t(gen() & 0xff);
    if ((b & 0x7f) == 0x7f) b = 0x10;  // no NaN encodings
  }
  const std::vector<float> scales = {0.5f, 2.0f, 0.25f, 8.0f};
  WeightView<Host> w;
  w.dtype = DType::f8_e4m3;
  w.rank = 2;
  w.shape = {out, in, 0, 0};
  w.data = reinterpret_cast<const std::byte*>(q.data());
  w.quant = Quant::fp8_block;
  w.scales = reinterpret_cast<const std::byte*>(scales.data());
  w.scale_ld = 2;
  w.block = 128;
  std::vector<float> rows(std::size_t(out * in));
  cpu::decode_rows(rows.data(), w, 0, out);
  for (std::int64_t r : {0L, 127L, 128L, 129L})
    for (std::int64_t c : {0L, 127L, 128L, 199L})
      EXPECT_EQ(rows[std::size_t(r * in + c)],
                fp8_e4m3fn_to_f32(q[std::size_t(r * in + c)]) * scales[std::size_t((r / 128) * 2 + c / 128)])
          << r << "," << c;
  // The linear computes from the blocks directly: y = W x equals the dequantised product.
  std::vector<float> x(static_cast<std::size_t>(in)), y(static_cast<std::size_t>(out));
  for (auto& v : x) v = float(int(gen() % 200) - 100) / 100.0f;
  cpu::Backend be(1);
  be.linear(MatrixView<float>(y.data(), 1, out), MatrixView<const float>(x.data(), 1, in), w);
  for (std::int64_t r = 0; r < out; ++r) {
    double ref = 0;
    for (std::int64_t c = 0; c < in; ++c) ref += double(rows[std::size_t(r * in + c)]) * x[std::size_t(c)];
    EXPECT_NEAR(y[std::size_t(r)], ref, 1e-3 * (1.0 + std::abs(ref)));
  }
}

TEST(DeepSeekFixture, StoresFp8BlocksAndTheMtpLayerIsLoaded) {
  const auto store = io::WeightStore::open(model_dir("deepseek-v3-tiny"));
  const io::WeightSource src(store);
  // kv_a_proj_with_mqa: out = 32 + 8 = 40, a partial edge block; the dense MLP has 160 > 128.
  const auto kv_a = layers::get_linear_weight(src, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", 40, 64);
  EXPECT_EQ(kv_a.quant, Quant::fp8_block);
  const auto up = layers::get_linear_weight(src, "model.layers.0.mlp.up_proj.weight", 160, 64);
  EXPECT_EQ(up.quant, Quant::fp8_block);
  EXPECT_EQ(up.scale_ld, 1);
  EXPECT_EQ(layers::get_linear_weight(src, "lm_head.weight", 512, 64).quant, Quant::none);
  cpu::Backend be(1);
  auto mtp = layers::load_mtp<Tiny>(be, src);
  ASSERT_NE(mtp, nullptr);
  EXPECT_EQ(mtp->eh_proj().quant, Quant::fp8_block);
  EXPECT_EQ(mtp->eh_proj().shape[1], 2 * Tiny::dims.hidden);
  EXPECT_FALSE(mtp->embed().empty());
}

TEST(DeepSeekCache, HoldsLatentsOnly) {
  static_assert(Mla::cache_k_width == 32 + 8 && Mla::cache_v_width == 0);
  using Real = layers::Attention<model::DeepSeekV3, cpu::Backend>;
  static_assert(Real::cache_k_width + Real::cache_v_width == 576);
  // 61 layers x 576 values x 2 bytes (bf16) = 70272 bytes per token.
  EXPECT_EQ(model::DeepSeekV3::dims.layers * (Real::cache_k_width + Real::cache_v_width) * 2, 70272);
  // Softmax scale: 192^-0.5 * mscale^2 (design §2.4).
  EXPECT_NEAR(layers::mla_softmax_scale<model::DeepSeekV3>(), 0.1352337788608801, 1e-12);
}

TEST(MlaKernel, AbsorbedEqualsExpanded) {
  const MlaArgs base{3, 8, 4, 6, 10, 0.3f, false};
  const int qk = base.nope + base.rope, width = base.rank + base.rope, hv = base.nope + base.v;
  const std::int64_t past = 5, n = 1;
  std::mt19937 gen(3);
  std::normal_distribution<float> nd;
  auto fill = [&](std::vector<float>& v) { for (auto& x : v) x = nd(gen); };
  std::vector<float> past_latents(std::size_t(past * width)), q(std::size_t(n * base.heads * qk)),
      latent(std::size_t(n * width)), wkv(std::size_t(base.heads * hv * base.rank));
  fill(past_latents), fill(q), fill(latent), fill(wkv);
  cpu::Backend be(1);
  test::OneSequenceKv<float> kv(be, {{width, 0, cfg::Mixer::full, 0}}, {.page_size = 2});
  const MatrixView<const float> past_rows(past_latents.data(), past, width);
  be.kv_store(kv.layer(0), kv.begin(past), past_rows, past_rows);
  kv.commit(past);
  WeightView<Host> w;
  w.rank = 2;
  w.shape = {base.heads * hv, base.rank, 0, 0};
  w.data = reinterpret_cast<const std::byte*>(wkv.data());
  std::vector<float> expanded(std::size_t(n * base.heads * base.v)), absorbed(expanded.size());
  const KvBatch& batch = kv.begin(n);
  MlaArgs a = base;
  be.mla_attention(MatrixView<float>(expanded.data(), n, base.heads * base.v),
                   MatrixView<const float>(q.data(), n, base.heads * qk),
                   MatrixView<const float>(latent.data(), n, width), kv.layer(0), batch, w, a);
  a.absorb_decode = true;
  be.mla_attention(MatrixView<float>(absorbed.data(), n, base.heads * base.v),
                   MatrixView<const float>(q.data(), n, base.heads * qk),
                   MatrixView<const float>(latent.data(), n, width), kv.layer(0), batch, w, a);
  EXPECT_LE(relative_error(absorbed, expanded, std::int64_t(expanded.size())), 1e-6);
  EXPECT_GT(relative_error(absorbed, expanded, std::int64_t(expanded.size())), 0.0);  // both paths ran
}

TEST(MlaModel, AbsorbedDecodeEqualsExpandedDecode) {
  cpu::Backend be(2);
  const auto dir = model_dir("deepseek-v3-tiny");
  runtime::Model<Tiny, cpu::Backend> m(be, io::WeightStore::open(dir));
  const auto ref = load_reference("deepseek-v3-tiny");
  const auto absorbed = m.score(ref.ids, true);
  Mla::absorb_decode = false;
  const auto expanded = m.score(ref.ids, true);
  Mla::absorb_decode = true;
  EXPECT_LE(relative_error(absorbed, expanded, Tiny::dims.vocab), 1e-5);
  EXPECT_GT(relative_error(absorbed, expanded, Tiny::dims.vocab), 0.0);  // two different paths ran
}

}  // namespace templlm::test
