// SPDX-License-Identifier: Apache-2.0
// Every tiny fixture model on the CUDA backend against its transformers reference, as
// tests/unit/models/fixture_test.cpp does on the CPU: prefill logits and token-by-token decode
// through the device KV cache within 1e-4 relative, the same experts per layer and position,
// the same greedy continuation, a batch of two sequences equal to each alone, and token ids
// outside the vocabulary rejected.
// Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <templlm/io/hf_config.hpp>
#include <templlm/kernels/cuda/backend.cuh>
#include <templlm/model/mixtral.hpp>
#include <templlm/model/qwen3.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/model.hpp>

#include "device.hpp"
#include "support/fixture.hpp"

namespace {

using namespace templlm;
constexpr double tolerance = 1e-4;  // the project's definition of exact; never loosened

template <class M>
class CudaFixture : public test::GpuTest {
 protected:
  using Model = runtime::Model<M, gpu::Backend>;
  void SetUp() override {
    GpuTest::SetUp();
    if (IsSkipped()) return;
    const auto dir = test::model_dir(std::string(M::name));
    io::HfConfig::load(dir).check(M::hf_fields(), M::name);
    be_ = std::make_unique<gpu::Backend>();
    model_ = std::make_unique<Model>(*be_, io::WeightStore::open(dir));
    ref_ = test::load_reference(std::string(M::name));
  }
  void expect_close(const std::vector<float>& got, const char* path) {
    const std::int64_t vocab = M::dims.vocab, t = std::int64_t(ref_.ids.size());
    ASSERT_EQ(got.size(), ref_.logits.data.size());
    EXPECT_LE(test::relative_error(got, ref_.logits.data, vocab), tolerance) << path;
    for (std::int64_t r = 0; r < t; ++r)
      EXPECT_LE(test::relative_error(got, ref_.logits.data, vocab, r), tolerance)
          << path << " position " << r;
  }
  void expect_same_experts(const layers::ExpertTrace& trace) {
    ASSERT_EQ(trace.layers.size(), ref_.experts.size());
    for (std::size_t l = 0; l < ref_.experts.size(); ++l) {
      if (ref_.experts[l].empty() || ref_.experts[l][0].empty()) continue;  // dense layer
      ASSERT_EQ(trace.layers[l].size(), ref_.experts[l].size()) << "layer " << l;
      for (std::size_t p = 0; p < ref_.experts[l].size(); ++p) {
        auto got = trace.layers[l][p], want = ref_.experts[l][p];
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        EXPECT_EQ(got, want) << "layer " << l << " position " << p;
      }
    }
  }

  std::unique_ptr<gpu::Backend> be_;
  std::unique_ptr<Model> model_;
  test::Reference ref_;
};

using TinyModels = ::testing::Types<model::MixtralTiny, model::Qwen3MoeTiny, model::Qwen3Tiny>;
TYPED_TEST_SUITE(CudaFixture, TinyModels);

TYPED_TEST(CudaFixture, PrefillMatchesTransformers) {
  layers::ExpertTrace trace;
  this->expect_close(this->model_->score(this->ref_.ids, false, &trace), "prefill");
  this->expect_same_experts(trace);
}

TYPED_TEST(CudaFixture, DecodeThroughKvCacheMatchesTransformers) {
  layers::ExpertTrace trace;
  this->expect_close(this->model_->score(this->ref_.ids, true, &trace), "decode");
  this->expect_same_experts(trace);
}

TYPED_TEST(CudaFixture, GreedyContinuationMatchesTransformers) {
  using M = TypeParam;
  auto& net = this->model_->net();
  const auto& ids = this->ref_.ids;
  auto cache = net.make_cache(std::int64_t(ids.size() + this->ref_.greedy.size()));
  std::vector<int> got;
  std::vector<float> row(M::dims.vocab);
  auto logits = net.forward(ids, {{cache.get(), 0, std::int64_t(ids.size())}},
                            layers::LogitRows::last_of_each_chunk);
  for (std::size_t step = 0; step < this->ref_.greedy.size(); ++step) {
    this->be_->copy_to_host(std::span<float>(row), MatrixView<const float, Device>(logits));
    const int next = int(std::max_element(row.begin(), row.end()) - row.begin());
    got.push_back(next);
    const int one[1] = {next};
    logits = net.forward(one, {{cache.get(), 0, 1}}, layers::LogitRows::last_of_each_chunk);
  }
  EXPECT_EQ(got, this->ref_.greedy);
}

TYPED_TEST(CudaFixture, BatchOfTwoSequencesEqualsEachAlone) {
  using M = TypeParam;
  auto& net = this->model_->net();
  const std::vector<int>& a = this->ref_.ids;
  const std::vector<int> b(a.begin() + 3, a.begin() + 10);
  std::vector<int> packed = a;
  packed.insert(packed.end(), b.begin(), b.end());
  auto ca = net.make_cache(64), cb = net.make_cache(64);
  const std::int64_t ta = std::int64_t(a.size()), tb = std::int64_t(b.size());
  auto logits = net.forward(packed, {{ca.get(), 0, ta}, {cb.get(), ta, tb}}, layers::LogitRows::all);
  std::vector<float> batched(std::size_t((ta + tb) * M::dims.vocab));
  this->be_->copy_to_host(std::span<float>(batched), MatrixView<const float, Device>(logits));
  const auto alone_b = this->model_->score(b, false);
  std::vector<float> got_a(batched.begin(), batched.begin() + ta * M::dims.vocab);
  std::vector<float> got_b(batched.begin() + ta * M::dims.vocab, batched.end());
  EXPECT_LE(test::relative_error(got_a, this->ref_.logits.data, M::dims.vocab), tolerance);
  // cuBLAS may pick another kernel for another row count: equal to fp32 rounding, not bitwise.
  EXPECT_LE(test::relative_error(got_b, alone_b, M::dims.vocab), 1e-6);
}

TYPED_TEST(CudaFixture, TokenIdOutsideTheVocabularyIsRejected) {
  const std::vector<int> bad = {1, TypeParam::dims.vocab, 2};
  EXPECT_THROW(this->model_->score(bad, false), InvalidInput);
  const std::vector<int> negative = {-1};
  EXPECT_THROW(this->model_->score(negative, true), InvalidInput);
}

}  // namespace
