// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
//
// On-device sampling (kernels/cuda/sampling.cuh) against runtime::Sampler, the specification:
// the same token id for the same logits, history, parameters and draw. Random logits of
// vocabularies 1000, 50257 and 201088, rounded coarsely so that many tie (the chain orders ties
// by the lower id), with ties at the maximum; greedy with and without penalties; temperature,
// top-k, top-p, min-p and their combinations, several rows (greedy and sampling mixed) per call,
// many draws each. Then a CUDA model's step_sample (device sampling) against its step (logits
// downloaded) + Sampler, over batched prefill and decode steps.
#include <templlm/model/qwen3.hpp>
#include <templlm/runtime/model.hpp>
#include <templlm/runtime/sampler.hpp>

namespace {

using namespace templlm;

/// Normal logits rounded to 1/4 (ties everywhere) with the maximum repeated at later ids, near
/// and far (a block's threads stride the row: ties within one thread's elements and across).
std::vector<float> tied_logits(std::int64_t rows, std::int64_t vocab, std::uint32_t seed, float scale) {
  auto l = test::random_floats(static_cast<std::size_t>(rows * vocab), seed, scale);
  for (auto& x : l) x = std::round(x * 4.0f) / 4.0f;
  for (std::int64_t r = 0; r < rows; ++r) {
    auto* row = l.data() + r * vocab;
    const std::int64_t first = std::max_element(row, row + vocab) - row;
    for (std::int64_t at : {first + 1, first + 256, first + 1024, vocab / 2, vocab - 1})
      if (at < vocab) row[at] = row[first];
  }
  return l;
}

/// A history with repeats and ids outside the vocabulary (which the penalties skip).
std::vector<int> history_for(std::int64_t vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> id(0, int(vocab) - 1);
  std::vector<int> h;
  for (int i = 0; i < 40; ++i) h.push_back(id(rng));
  for (int i = 0; i < 10; ++i) h.push_back(h[std::size_t(i * 3)]);
  h.push_back(-1);
  h.push_back(int(vocab) + 5);
  return h;
}

/// The device's pick for every row of `logits` and every draw in [0, draws) equals Sampler's.
void expect_same_picks(gpu::Backend& gpu, const std::vector<float>& logits, std::int64_t vocab,
                       const std::vector<SamplingParams>& params, const std::vector<std::vector<int>>& histories,
                       int draws) {
  const auto rows = std::int64_t(params.size());
  test::Twin l(gpu, rows, vocab, logits);
  runtime::Sampler host(vocab);
  std::vector<int> got(params.size());
  for (int d = 0; d < draws; ++d) {
    std::vector<SampleRequest> req;
    for (std::size_t r = 0; r < params.size(); ++r)
      req.push_back({params[r], histories[r], std::uint64_t(d) * 7919 + r});
    gpu.sample(got, MatrixView<const float, Device>(l.gpu()), req);
    for (std::size_t r = 0; r < params.size(); ++r) {
      const auto row = std::span<const float>(logits).subspan(r * std::size_t(vocab), std::size_t(vocab));
      ASSERT_EQ(got[r], host.sample(row, histories[r], params[r], req[r].draw))
          << "vocab " << vocab << ", row " << r << ", draw " << d;
    }
  }
}

TEST_F(CudaOps, SampleGreedyIsTheFirstMaximumWithAndWithoutPenalties) {
  std::uint32_t seed = 1400;
  for (std::int64_t vocab : {1000, 50257, 201088}) {
    SCOPED_TRACE(vocab);
    const std::vector<SamplingParams> params = {
        {},
        {.repetition_penalty = 1.3f},
        {.presence_penalty = 0.5f, .frequency_penalty = 0.25f},
        {.repetition_penalty = 0.8f, .presence_penalty = -0.5f, .frequency_penalty = 0.75f},
    };
    const auto logits = tied_logits(std::int64_t(params.size()), vocab, ++seed, 3.0f);
    std::vector<std::vector<int>> histories;
    for (std::size_t r = 0; r < params.size(); ++r) {
      histories.push_back(history_for(vocab, ++seed));
      // Seen tokens at the maximum, so the penalties change the pick.
      const auto* row = logits.data() + r * std::size_t(vocab);
      histories.back().push_back(int(std::max_element(row, row + vocab) - row));
    }
    expect_same_picks(gpu(), logits, vocab, params, histories, 1);
  }
  // Every logit equal: id 0.
  std::vector<int> got(1);
  test::Twin flat(gpu(), 1, 4099, std::vector<float>(4099, -2.0f));
  const std::vector<SampleRequest> req = {{}};
  gpu().sample(got, MatrixView<const float, Device>(flat.gpu()), req);
  EXPECT_EQ(got[0], 0);
}

TEST_F(CudaOps, SampleRefusesNanLogitsWithTheHostsError) {
  const std::int64_t vocab = 50257;
  for (const SamplingParams& sp : {SamplingParams{}, SamplingParams{.temperature = 0.9f, .top_p = 0.9f, .seed = 3}}) {
    auto logits = tied_logits(3, vocab, 1600, 3.0f);
    logits[std::size_t(vocab + 40000)] = std::nanf("");  // row 1: the first NaN at id 777
    logits[std::size_t(vocab + 777)] = std::nanf("");
    test::Twin l(gpu(), 3, vocab, logits);
    const std::vector<SampleRequest> req = {{sp, {}, 0}, {sp, {}, 5}, {sp, {}, 9}};
    std::vector<int> got(3);
    std::string host_error, device_error;
    try {
      runtime::Sampler(vocab).sample(std::span<const float>(logits).subspan(std::size_t(vocab), std::size_t(vocab)), {},
                                     sp, 5);
    } catch (const InvalidInput& e) {
      host_error = e.what();
    }
    try {
      gpu().sample(got, MatrixView<const float, Device>(l.gpu()), req);
    } catch (const InvalidInput& e) {
      device_error = e.what();
    }
    EXPECT_NE(host_error.find("token id 777 "), std::string::npos) << host_error;
    EXPECT_EQ(device_error, host_error);
  }
}

TEST_F(CudaOps, SampleChainMatchesSamplerForEveryFilterAndCombination) {
  std::uint32_t seed = 1500;
  const std::vector<SamplingParams> params = {
      {.temperature = 1.0f, .seed = 1},
      {.temperature = 0.6f, .seed = 2},
      {.temperature = 1.0f, .top_k = 1, .seed = 3},
      {.temperature = 1.3f, .top_k = 50, .seed = 4},
      {.temperature = 1.0f, .top_p = 0.6f, .seed = 5},
      {.temperature = 0.8f, .top_p = 0.95f, .seed = 6},
      {.temperature = 1.0f, .min_p = 0.05f, .seed = 7},
      {.temperature = 1.0f, .top_k = 100, .top_p = 0.9f, .seed = 8},
      {.temperature = 1.1f, .top_p = 0.8f, .min_p = 0.1f, .seed = 9},
      {.temperature = 0.7f, .top_k = 40, .top_p = 0.9f, .min_p = 0.02f, .repetition_penalty = 1.2f,
       .presence_penalty = 0.3f, .frequency_penalty = 0.1f, .seed = 10},
      {.repetition_penalty = 1.5f},  // a greedy row in the same call
      {.temperature = 2.0f, .presence_penalty = 1.0f, .seed = 11},
  };
  for (std::int64_t vocab : {1000, 50257, 201088}) {
    SCOPED_TRACE(vocab);
    const auto logits = tied_logits(std::int64_t(params.size()), vocab, ++seed, 3.0f);
    std::vector<std::vector<int>> histories;
    for (std::size_t r = 0; r < params.size(); ++r) histories.push_back(history_for(vocab, ++seed));
    expect_same_picks(gpu(), logits, vocab, params, histories, vocab > 100000 ? 4 : 24);
  }
}

TEST_F(CudaOps, SampleTopPBoundaryAndTiesOverManyDraws) {
  // A few large logits with ties among them: the kept set is small, so the draws often land on
  // the last token top-p keeps and on tied tokens, whose order is by id.
  const std::int64_t vocab = 1000;
  std::vector<float> logits(2 * vocab, -8.0f);
  for (int i : {17, 400, 3, 999, 250}) logits[std::size_t(i)] = 2.0f;
  for (int i : {600, 5, 77}) logits[std::size_t(i)] = 1.5f;
  logits[std::size_t(vocab + 10)] = logits[std::size_t(vocab + 900)] = 1.0f;
  logits[std::size_t(vocab + 20)] = logits[std::size_t(vocab + 30)] = logits[std::size_t(vocab + 40)] = 0.5f;
  const std::vector<SamplingParams> params = {{.temperature = 1.0f, .top_p = 0.55f, .seed = 21},
                                              {.temperature = 1.0f, .top_p = 0.7f, .seed = 22}};
  expect_same_picks(gpu(), logits, vocab, params, {{}, {}}, 300);
}

TEST_F(CudaOps, ModelStepSampleSamplesOnTheDeviceAsStepAndSamplerWould) {
  runtime::Model<model::Qwen3Tiny, gpu::Backend> m(
      gpu(), io::WeightStore::open(std::filesystem::path(TEMPLLM_TEST_DATA_DIR) / "models" / "qwen3-tiny"));
  const std::vector<SamplingParams> params = {
      {},
      {.repetition_penalty = 1.3f, .presence_penalty = 0.2f},
      {.temperature = 1.0f, .seed = 5},
      {.temperature = 0.8f, .top_k = 20, .top_p = 0.9f, .min_p = 0.05f, .frequency_penalty = 0.3f, .seed = 6},
  };
  const std::size_t n = params.size(), v = std::size_t(m.vocab());
  std::vector<std::unique_ptr<runtime::Sequence>> on_device, on_host;
  std::vector<std::vector<int>> histories;
  for (std::size_t s = 0; s < n; ++s) {
    on_device.push_back(m.new_sequence(32));
    on_host.push_back(m.new_sequence(32));
    histories.push_back({1, 2, 3, int(s) + 4, 5});
  }
  runtime::Sampler host(m.vocab());
  std::vector<float> logits(n * v);
  for (std::uint64_t draw = 0; draw < 8; ++draw) {
    std::vector<runtime::Step> device_steps, host_steps;
    std::vector<SampleRequest> rows;
    for (std::size_t s = 0; s < n; ++s) {
      const auto fresh = std::span<const int>(histories[s]).subspan(std::size_t(on_device[s]->length()));
      device_steps.push_back({on_device[s].get(), fresh});
      host_steps.push_back({on_host[s].get(), fresh});
      rows.push_back({params[s], histories[s], draw});
    }
    std::vector<int> got(n);
    m.step_sample(device_steps, rows, got);
    m.step(host_steps, logits);
    for (std::size_t s = 0; s < n; ++s) {
      const int want = host.sample(std::span<const float>(logits).subspan(s * v, v), histories[s], params[s], draw);
      ASSERT_EQ(got[s], want) << "row " << s << ", draw " << draw;
      histories[s].push_back(want);
    }
  }
}

}  // namespace
