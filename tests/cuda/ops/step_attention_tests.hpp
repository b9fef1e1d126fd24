// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
// A whole step in one call, as Transformer::forward makes it: several sequences of different
// lengths, each one chunk, decode chunks (one token, a few tokens) and prefill chunks mixed in
// one batch, every mask with windows that freed pages, fp32 and bf16 caches, GQA attention and
// MLA (absorbed single tokens beside expanded prefill chunks): the GPU's one launch per path
// against the CPU's batched op.

namespace {

struct StepCase {
  const char* what;
  int heads, kv_heads, head_dim;
  cfg::Mixer mixer;
  int window;
  bool sinks;
  std::vector<std::int64_t> prefix, chunk;  // per sequence: tokens cached before, tokens now
};

/// Fills each sequence's prefix (one batched store per backend), then runs one step of attention
/// over all sequences' chunks on both backends.
template <KvElement T>
void run_step_case(cpu::Backend& cpu, gpu::Backend& gpu, const StepCase& c, std::uint32_t seed) {
  SCOPED_TRACE(c.what);
  const std::int64_t k_width = std::int64_t(c.kv_heads) * c.head_dim;
  test::BasicKvTwin<T> cache(cpu, gpu, {k_width, k_width, c.mixer, c.window}, 4, int(c.prefix.size()));
  const std::int64_t filled = std::accumulate(c.prefix.begin(), c.prefix.end(), std::int64_t(0));
  if (filled > 0) {
    Twin k0(gpu, filled, k_width, ++seed), v0(gpu, filled, k_width, ++seed);
    cache.begin(c.prefix);
    cpu.kv_store(cache.cpu_pages(), cache.cpu_batch(), k0.cpu(), v0.cpu());
    gpu.kv_store(cache.gpu_pages(), cache.gpu_batch(), k0.gpu(), v0.gpu());
    cache.commit();
  }
  const std::int64_t rows = std::accumulate(c.chunk.begin(), c.chunk.end(), std::int64_t(0));
  const auto sinks = random_floats(std::size_t(c.heads), ++seed, 2.0f);
  gpu::DeviceBuffer<float> dsinks;
  gpu.copy_from_host(dsinks, std::span<const float>(sinks));
  Twin q(gpu, rows, std::int64_t(c.heads) * c.head_dim, ++seed, 2.0f);
  Twin k(gpu, rows, k_width, ++seed), v(gpu, rows, k_width, ++seed);
  Twin out(gpu, rows, std::int64_t(c.heads) * c.head_dim, ++seed);  // garbage: fully written
  AttentionArgs a{c.heads, c.kv_heads, c.head_dim, c.head_dim, float(1.0 / std::sqrt(double(c.head_dim))),
                  c.mixer, c.window, c.sinks ? sinks.data() : nullptr};
  cache.begin(c.chunk);
  // The step's chunks go to both GPU paths.
  bool decode = false, prefill = false;
  for (const StepChunk& ch : cache.cpu_batch().chunks)
    (gpu::detail::decode_attention_applies(ch.tokens, a) ? decode : prefill) = true;
  ASSERT_TRUE(decode && prefill) << "a step case mixes decode and prefill chunks";
  cpu.kv_store(cache.cpu_pages(), cache.cpu_batch(), k.cpu(), v.cpu());
  gpu.kv_store(cache.gpu_pages(), cache.gpu_batch(), k.gpu(), v.gpu());
  cpu.attention(out.cpu(), q.cpu(), k.cpu(), v.cpu(), cache.cpu_pages(), cache.cpu_batch(), a);
  a.sinks = c.sinks ? dsinks.data() : nullptr;
  gpu.attention(out.gpu(), q.gpu(), k.gpu(), v.gpu(), cache.gpu_pages(), cache.gpu_batch(), a);
  EXPECT_LE(out.error(gpu), test::op_tolerance);
  // The stores agree element for element (the same rounding to T on both backends).
  const auto host = cache.cpu_pages();
  const auto dev = cache.gpu_pages();
  const std::int64_t n = cache.storage_rows() * k_width;
  std::vector<T> got(std::size_t(n), T{});
  gpu.copy_to_host(std::span<T>(got), MatrixView<const T, Device>(dev.k, cache.storage_rows(), k_width));
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < n; ++i)
    differ += std::memcmp(&got[std::size_t(i)], &host.k[i], sizeof(T)) != 0 ? 1 : 0;
  EXPECT_EQ(differ, 0) << "cache elements the two stores wrote differently";
}

const StepCase step_cases[] = {
    {"full: 3 decodes (1, 300, 5000 cached) + a 40-token prefill after 20, group 4",
     8, 2, 64, cfg::Mixer::full, 0, false, {0, 299, 4999, 20}, {1, 1, 1, 40}},
    {"full: a prefill first, then a 2-token draft and a decode, group 8, sinks",
     8, 1, 64, cfg::Mixer::full, 0, true, {10, 255, 600}, {33, 2, 1}},
    {"sliding 24 (freed pages): 2 decodes and 2 prefills of different lengths, group 4, sinks",
     8, 2, 64, cfg::Mixer::sliding, 24, true, {500, 0, 31, 70}, {1, 50, 1, 9}},
    {"chunked 40: decodes at a chunk's first and last position and a prefill across chunks",
     8, 2, 128, cfg::Mixer::chunked, 40, false, {80, 119, 30}, {1, 1, 60}},
    {"group 1: 16-token chunks still decode, a 17-token one does not",
     4, 4, 32, cfg::Mixer::no_rope, 0, false, {5, 40, 0}, {16, 1, 17}},
};

TEST_F(CudaOps, StepAttentionRunsEveryChunkOfTheBatchAtOnce) {
  std::uint32_t seed = 3000;
  for (const auto& c : step_cases) run_step_case<float>(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, StepAttentionOverABf16Cache) {
  std::uint32_t seed = 3100;
  for (const auto& c : step_cases) run_step_case<Bf16>(cpu_, gpu(), c, seed += 10);
}

/// MLA for several sequences in one step: single tokens (absorbed) beside prefill chunks
/// (expanded, their latents gathered from the pages).
template <KvElement T>
void run_mla_step_case(cpu::Backend& cpu, gpu::Backend& gpu, std::vector<std::int64_t> prefix,
                       std::vector<std::int64_t> chunk, std::uint32_t seed) {
  const int heads = 5, nope = 16, rope = 8, v = 12, rank = 32;
  const std::int64_t width = rank + rope, qk = nope + rope;
  test::BasicKvTwin<T> cache(cpu, gpu, {width, 0, cfg::Mixer::full, 0}, 4, int(prefix.size()));
  const std::int64_t filled = std::accumulate(prefix.begin(), prefix.end(), std::int64_t(0));
  if (filled > 0) {
    Twin l0(gpu, filled, width, ++seed);
    cache.begin(prefix);
    cpu.kv_store(cache.cpu_pages(), cache.cpu_batch(), l0.cpu(), l0.cpu());
    gpu.kv_store(cache.gpu_pages(), cache.gpu_batch(), l0.gpu(), l0.gpu());
    cache.commit();
  }
  const std::int64_t rows = std::accumulate(chunk.begin(), chunk.end(), std::int64_t(0));
  auto kv_b = make_weight(DType::bf16, {heads * (nope + v), rank}, ++seed, 1.0f / std::sqrt(float(rank)));
  Twin q(gpu, rows, heads * qk, ++seed), latent(gpu, rows, width, ++seed), out(gpu, rows, heads * v, ++seed);
  const MlaArgs a{heads, nope, rope, v, rank, float(1.0 / std::sqrt(double(qk))), true};
  cache.begin(chunk);
  cpu.kv_store(cache.cpu_pages(), cache.cpu_batch(), latent.cpu(), latent.cpu());
  gpu.kv_store(cache.gpu_pages(), cache.gpu_batch(), latent.gpu(), latent.gpu());
  cpu.mla_attention(out.cpu(), q.cpu(), latent.cpu(), cache.cpu_pages(), cache.cpu_batch(), kv_b.view, a);
  gpu.mla_attention(out.gpu(), q.gpu(), latent.gpu(), cache.gpu_pages(), cache.gpu_batch(), gpu.upload(kv_b.view), a);
  EXPECT_LE(out.error(gpu), test::op_tolerance);
}

TEST_F(CudaOps, StepMlaAbsorbsSingleTokensBesidePrefillChunks) {
  const std::vector<std::int64_t> prefix{0, 300, 17, 40, 0}, chunk{1, 1, 1, 23, 9};
  SCOPED_TRACE("fp32 cache");
  run_mla_step_case<float>(cpu_, gpu(), prefix, chunk, 3200);
  SCOPED_TRACE("bf16 cache");
  run_mla_step_case<Bf16>(cpu_, gpu(), prefix, chunk, 3300);
}

}  // namespace
