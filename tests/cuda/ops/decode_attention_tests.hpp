// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
// The decode path of gpu::attention (split over the KV length, the query heads of one KV head in
// one block, a log-sum-exp merge): contexts shorter than, equal to and much longer than one
// partition, GQA groups 1 to 32, every mask, windows whose early pages were freed, sinks, v_dim != head_dim,
// and a few query rows per chunk, all against the CPU backend.

namespace {

/// One attention call on both backends (the prefill tests use the same harness).
struct CachedAttentionCase {
  const char* what;
  int heads, kv_heads, head_dim, v_dim;
  cfg::Mixer mixer;
  int window;
  bool sinks;
  std::int64_t prefix, chunk;  // tokens already cached, tokens of this chunk
};

/// Runs c on both backends through their KV pools (pages of 4 positions; a sliding or chunked
/// layer frees the pages that leave its window); `decode` says which GPU path the case must take.
void run_cached_attention_case(cpu::Backend& cpu, gpu::Backend& gpu, const CachedAttentionCase& c, std::uint32_t seed,
                        bool decode = true) {
  SCOPED_TRACE(c.what);
  const std::int64_t k_width = std::int64_t(c.kv_heads) * c.head_dim, v_width = std::int64_t(c.kv_heads) * c.v_dim;
  KvTwin cache(cpu, gpu, {k_width, v_width, c.mixer, c.window});
  if (c.prefix > 0) {  // fill the cache through both backends' kv_store
    Twin k0(gpu, c.prefix, k_width, ++seed), v0(gpu, c.prefix, v_width, ++seed);
    cache.begin(c.prefix);
    cpu.kv_store(cache.cpu_pages(), cache.cpu_batch(), k0.cpu(), v0.cpu());
    gpu.kv_store(cache.gpu_pages(), cache.gpu_batch(), k0.gpu(), v0.gpu());
    cache.commit(c.prefix);
  }
  const auto sinks = random_floats(std::size_t(c.heads), ++seed, 2.0f);
  gpu::DeviceBuffer<float> dsinks;
  gpu.copy_from_host(dsinks, std::span<const float>(sinks));
  Twin q(gpu, c.chunk, std::int64_t(c.heads) * c.head_dim, ++seed, 2.0f);
  Twin k(gpu, c.chunk, k_width, ++seed), v(gpu, c.chunk, v_width, ++seed);
  Twin out(gpu, c.chunk, std::int64_t(c.heads) * c.v_dim, ++seed);
  AttentionArgs a{c.heads, c.kv_heads, c.head_dim, c.v_dim, float(1.0 / std::sqrt(double(c.head_dim))),
                  c.mixer, c.window, c.sinks ? sinks.data() : nullptr};
  ASSERT_EQ(gpu::detail::decode_attention_applies(c.chunk, a), decode)
      << "the case must take the " << (decode ? "decode" : "prefill") << " path";
  cache.begin(c.chunk);
  cpu.attention(out.cpu(), q.cpu(), k.cpu(), v.cpu(), cache.cpu_pages(), cache.cpu_batch(), a);
  a.sinks = c.sinks ? dsinks.data() : nullptr;
  gpu.attention(out.gpu(), q.gpu(), k.gpu(), v.gpu(), cache.gpu_pages(), cache.gpu_batch(), a);
  EXPECT_LE(out.error(gpu), op_tolerance);
}

TEST_F(CudaOps, DecodeAttentionSplitsTheKeysAndGroupsTheHeads) {
  using M = cfg::Mixer;
  const CachedAttentionCase cases[] = {
      {"1 key, group 1", 4, 4, 64, 64, M::full, 0, false, 0, 1},
      {"1 key, group 8, sink", 8, 1, 64, 64, M::full, 0, true, 0, 1},
      {"7 keys, group 4", 8, 2, 128, 128, M::full, 0, false, 6, 1},
      {"256 keys = one partition, group 8, sinks", 16, 2, 64, 64, M::full, 0, true, 255, 1},
      {"257 keys, group 4", 8, 2, 64, 64, M::full, 0, false, 256, 1},
      {"300 keys, group 8, sinks", 8, 1, 128, 128, M::no_rope, 0, true, 299, 1},
      {"300 keys, group 1", 3, 3, 80, 80, M::full, 0, false, 299, 1},
      {"5000 keys, group 4, sinks", 8, 2, 64, 64, M::full, 0, true, 4999, 1},
      {"5000 keys, group 8", 8, 1, 128, 128, M::full, 0, false, 4999, 1},
      {"5000 keys, group 1, sinks", 2, 2, 32, 32, M::full, 0, true, 4999, 1},
  };
  std::uint32_t seed = 700;
  for (const auto& c : cases) run_cached_attention_case(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, DecodeAttentionMasksOverFreedWindowPagesWithSinks) {
  using M = cfg::Mixer;
  const CachedAttentionCase cases[] = {
      // sliding: the window counts the query itself; the pages that left the window freed
      {"sliding 600 of 5000, group 4, sinks", 8, 2, 64, 64, M::sliding, 600, true, 4999, 1},
      {"sliding 600 of 5000, group 8", 8, 1, 64, 64, M::sliding, 600, false, 4999, 1},
      {"sliding 128 of 1000, group 8, sinks", 16, 2, 64, 64, M::sliding, 128, true, 999, 1},
      {"sliding 7 of 300, group 1", 2, 2, 64, 64, M::sliding, 7, false, 299, 1},
      {"sliding window wider than the context", 4, 1, 64, 64, M::sliding, 900, true, 299, 1},
      // chunked: a query sees its own chunk only; first, last and middle of a chunk
      {"chunked, first of a chunk", 8, 2, 64, 64, M::chunked, 300, true, 600, 1},
      {"chunked, last of a chunk", 8, 2, 64, 64, M::chunked, 300, false, 599, 1},
      {"chunked 1000, middle, freed pages, group 8", 8, 1, 64, 64, M::chunked, 1000, true, 2999, 1},
      {"chunked 1000, 3 partitions in, group 4", 8, 2, 128, 128, M::chunked, 1000, false, 4700, 1},
  };
  std::uint32_t seed = 800;
  for (const auto& c : cases) run_cached_attention_case(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, DecodeAttentionRowBlocksWideDimsAndSeveralTokens) {
  using M = cfg::Mixer;
  const CachedAttentionCase cases[] = {
      {"head dim 256, group 16: two row blocks", 16, 1, 256, 256, M::full, 0, true, 700, 1},
      {"group 32: two row blocks", 32, 1, 64, 64, M::sliding, 500, false, 1000, 1},
      {"v_dim != head_dim", 8, 2, 192, 128, M::full, 0, true, 400, 1},
      {"v_dim > head_dim", 4, 2, 64, 96, M::sliding, 300, false, 800, 1},
      {"3 tokens across a chunk boundary, group 4, sinks", 8, 2, 64, 64, M::chunked, 300, true, 598, 3},
      {"2 tokens, sliding, freed pages, group 8, sinks", 8, 1, 64, 64, M::sliding, 300, true, 1000, 2},
      {"4 tokens, group 1, full", 4, 4, 64, 64, M::full, 0, false, 510, 4},
      {"16 tokens of a first chunk, group 1", 2, 2, 32, 32, M::full, 0, true, 0, 16},
  };
  std::uint32_t seed = 900;
  for (const auto& c : cases) run_cached_attention_case(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, DecodeAttentionRuleLeavesPrefillToTheFlashKernel) {
  AttentionArgs a{8, 2, 64, 64, 0.125f, cfg::Mixer::full, 0, nullptr};
  EXPECT_TRUE(gpu::detail::decode_attention_applies(1, a));
  EXPECT_TRUE(gpu::detail::decode_attention_applies(4, a));   // 16 rows of one KV head
  EXPECT_FALSE(gpu::detail::decode_attention_applies(5, a));  // 20 rows: the flash prefill kernel
  EXPECT_FALSE(gpu::detail::decode_attention_applies(37, a));
  a.heads = 64;  // group 32: a single token still decodes, in two row blocks
  EXPECT_TRUE(gpu::detail::decode_attention_applies(1, a));
  EXPECT_FALSE(gpu::detail::decode_attention_applies(2, a));
  a = {16, 1, 256, 256, 0.0625f, cfg::Mixer::full, 0, nullptr};
  EXPECT_EQ(gpu::detail::decode_block_rows(a), 13);  // 48 KB of shared memory
}

}  // namespace
