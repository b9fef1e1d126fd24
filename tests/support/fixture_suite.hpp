// SPDX-License-Identifier: Apache-2.0
/// \file tests/support/fixture_suite.hpp
/// The typed test suite every tiny model runs against its transformers reference: prefill logits and token-by-token decode
// through the KV cache within 1e-4 relative, the same experts per layer and position, and the
// same greedy continuation. The type parameter is a description (run on the CPU backend) or
// OnBackend<M, B> (tests/cuda/fixtures_test.cu runs the same suite on the CUDA backend).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <templlm/io/hf_config.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/runtime/model.hpp>

#pragma once
#include "support/fixture.hpp"

namespace templlm::test {

using namespace templlm;
inline constexpr double tolerance = 1e-4;  // the project's definition of exact; never loosened

/// A suite type parameter that runs description M on backend B.
template <class M, class B>
struct OnBackend {};
template <class P>
struct SuiteParam {
  using Model = P;
  using Backend = cpu::Backend;
};
template <class M, class B>
struct SuiteParam<OnBackend<M, B>> {
  using Model = M;
  using Backend = B;
};

/// How the suite gets a backend; one that may be absent (a GPU) specializes this before the
/// suite is instantiated, with a skip_reason() that is non-empty where it cannot run.
/// batch_bound: how far a sequence's logits in a batch may be from the same sequence alone. Only
/// the summation order may differ (the row count picks the GEMM blocking or algorithm), so this
/// is fp32 rounding through the whole network, never a model difference.
template <class B>
struct SuiteBackend {
  static std::string skip_reason() { return {}; }
  static std::unique_ptr<B> make() { return std::make_unique<B>(); }
  static constexpr double batch_bound = 1e-6;
};
template <>
struct SuiteBackend<cpu::Backend> {
  static std::string skip_reason() { return {}; }
  static std::unique_ptr<cpu::Backend> make() { return std::make_unique<cpu::Backend>(2); }
  static constexpr double batch_bound = 1e-6;
};

template <class P>
class FixtureTest : public ::testing::Test {
 protected:
  using M = typename SuiteParam<P>::Model;
  using B = typename SuiteParam<P>::Backend;
  static std::string dir_name() { return std::string(M::name); }
  void SetUp() override {
    if (const std::string why = SuiteBackend<B>::skip_reason(); !why.empty()) GTEST_SKIP() << why;
    const auto dir = test::model_dir(dir_name());
    io::HfConfig::load(dir).check(M::hf_fields(), M::name);
    be_ = SuiteBackend<B>::make();
    model_ = std::make_unique<runtime::Model<M, B>>(*be_, io::WeightStore::open(dir));
    ref_ = test::load_reference(dir_name());
  }
  /// The logits rows `logits` (backend memory) in host memory.
  template <class View>
  void copy_to_host(std::vector<float>& dst, const View& logits) {
    be_->copy_to_host(std::span<float>(dst), MatrixView<const float, typename B::space>(logits));
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

  std::unique_ptr<B> be_;
  std::unique_ptr<runtime::Model<M, B>> model_;
  test::Reference ref_;
};

TYPED_TEST_SUITE_P(FixtureTest);

TYPED_TEST_P(FixtureTest, PrefillMatchesTransformers) {
  layers::ExpertTrace trace;
  this->expect_close(this->model_->score(this->ref_.ids, false, &trace), "prefill");
  this->expect_same_experts(trace);
}

TYPED_TEST_P(FixtureTest, DecodeThroughKvCacheMatchesTransformers) {
  layers::ExpertTrace trace;
  this->expect_close(this->model_->score(this->ref_.ids, true, &trace), "decode");
  this->expect_same_experts(trace);
}

TYPED_TEST_P(FixtureTest, GreedyContinuationMatchesTransformers) {
  using M = typename TestFixture::M;
  auto& net = this->model_->net();
  const auto& ids = this->ref_.ids;
  auto cache = net.new_sequence(std::int64_t(ids.size() + this->ref_.greedy.size()));
  std::vector<int> got;
  std::vector<float> row(M::dims.vocab);
  auto logits = net.forward(ids, {{cache.get(), 0, std::int64_t(ids.size())}},
                            layers::LogitRows::last_of_each_chunk);
  for (std::size_t step = 0; step < this->ref_.greedy.size(); ++step) {
    this->copy_to_host(row, logits);
    const int next = int(std::max_element(row.begin(), row.end()) - row.begin());
    got.push_back(next);
    const int one[1] = {next};
    logits = net.forward(one, {{cache.get(), 0, 1}}, layers::LogitRows::last_of_each_chunk);
  }
  EXPECT_EQ(got, this->ref_.greedy);
}

TYPED_TEST_P(FixtureTest, BatchOfTwoSequencesEqualsEachAlone) {
  // Two sequences of different lengths in one forward, each with its own cache, give the same
  // logits as each run alone (the batched-forward contract of the backend seam).
  using M = typename TestFixture::M;
  auto& net = this->model_->net();
  const std::vector<int>& a = this->ref_.ids;
  const std::vector<int> b(a.begin() + 3, a.begin() + 10);
  std::vector<int> packed = a;
  packed.insert(packed.end(), b.begin(), b.end());
  auto ca = net.new_sequence(64), cb = net.new_sequence(64);
  const std::int64_t ta = std::int64_t(a.size()), tb = std::int64_t(b.size());
  auto logits = net.forward(packed, {{ca.get(), 0, ta}, {cb.get(), ta, tb}}, layers::LogitRows::all);
  std::vector<float> batched(std::size_t((ta + tb) * M::dims.vocab));
  this->copy_to_host(batched, logits);
  const auto alone_b = this->model_->score(b, false);
  std::vector<float> got_a(batched.begin(), batched.begin() + ta * M::dims.vocab);
  std::vector<float> got_b(batched.begin() + ta * M::dims.vocab, batched.end());
  EXPECT_LE(test::relative_error(got_a, this->ref_.logits.data, M::dims.vocab), tolerance);
  // Another row count may change the GEMM's blocking or algorithm: equal to fp32 rounding.
  EXPECT_LE(test::relative_error(got_b, alone_b, M::dims.vocab),
            SuiteBackend<typename TestFixture::B>::batch_bound);
}

TYPED_TEST_P(FixtureTest, TokenIdOutsideTheVocabularyIsRejected) {
  const std::vector<int> bad = {1, TestFixture::M::dims.vocab, 2};
  EXPECT_THROW(this->model_->score(bad, false), InvalidInput);
  const std::vector<int> negative = {-1};
  EXPECT_THROW(this->model_->score(negative, true), InvalidInput);
}

REGISTER_TYPED_TEST_SUITE_P(FixtureTest, PrefillMatchesTransformers,
                            DecodeThroughKvCacheMatchesTransformers,
                            GreedyContinuationMatchesTransformers,
                            BatchOfTwoSequencesEqualsEachAlone,
                            TokenIdOutsideTheVocabularyIsRejected);

}  // namespace templlm::test
