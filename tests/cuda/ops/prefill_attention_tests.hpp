// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
// The prefill path of gpu::attention (flash_attention.cuh: tiles of query rows with every query
// head of one KV head, key tiles staged in shared memory, an online softmax per row): token
// counts one under and one over a block's tile of tokens, GQA groups 1 to 48 (dividing the 32-row
// tile or not), every mask, sinks, windows whose early pages were freed, a chunk after a filled cache,
// v_dim != head_dim and head dims up to 256, all against the CPU backend.

namespace {

// CachedAttentionCase and run_cached_attention_case: decode_attention_tests.hpp (same TU).

// Tiles of tokens per block: 32 at group 1, 8 at group 4, 4 at group 8, 6 (30 rows) at group 5.
TEST_F(CudaOps, PrefillAttentionTilesQueriesAndGroupsTheHeads) {
  using M = cfg::Mixer;
  const CachedAttentionCase cases[] = {
      {"group 1, 31 tokens", 4, 4, 64, 64, M::full, 0, false, 0, 31},
      {"group 1, 32 tokens", 2, 2, 64, 64, M::full, 0, false, 0, 32},
      {"group 1, 33 tokens, sinks", 2, 2, 64, 64, M::full, 0, true, 0, 33},
      {"group 4, 7 tokens", 8, 2, 128, 128, M::full, 0, false, 0, 7},
      {"group 4, 9 tokens, sinks", 8, 2, 128, 128, M::full, 0, true, 0, 9},
      {"group 8, 5 tokens", 8, 1, 64, 64, M::no_rope, 0, false, 0, 5},
      {"group 8, 3 tokens, sinks", 16, 2, 128, 128, M::full, 0, true, 0, 3},
      {"group 5 does not divide the tile, 37 tokens", 10, 2, 64, 64, M::full, 0, true, 0, 37},
      {"group 48: a token over two blocks", 48, 1, 64, 64, M::full, 0, true, 0, 5},
      {"chunk after a filled cache, group 8", 16, 2, 128, 128, M::full, 0, false, 100, 50},
      {"chunk after a filled cache, group 1, sinks", 3, 3, 64, 64, M::full, 0, true, 45, 33},
      {"long prefill, several key tiles, group 4, sinks", 8, 2, 64, 64, M::full, 0, true, 0, 300},
      {"long prefill after a prefix, group 8", 8, 1, 128, 128, M::full, 0, false, 70, 130},
  };
  std::uint32_t seed = 1000;
  for (const auto& c : cases) run_cached_attention_case(cpu_, gpu(), c, seed += 10, /*decode=*/false);
}

TEST_F(CudaOps, PrefillAttentionMasksOverFreedWindowPagesWithSinks) {
  using M = cfg::Mixer;
  const CachedAttentionCase cases[] = {
      // sliding (gpt-oss): the window counts the query itself; the pages that left the window freed
      {"sliding 16, 70-token prefill, group 4, sinks", 8, 2, 64, 64, M::sliding, 16, true, 0, 70},
      {"sliding 24 after a freed pages, group 8, sinks", 8, 1, 64, 64, M::sliding, 24, true, 50, 40},
      {"sliding 7 after a freed pages, group 1", 2, 2, 64, 64, M::sliding, 7, false, 20, 33},
      {"sliding 32 = one key tile, group 1, sinks", 2, 2, 64, 64, M::sliding, 32, true, 40, 65},
      {"sliding 33, group 4", 8, 2, 64, 64, M::sliding, 33, false, 0, 90},
      {"sliding window wider than the context", 4, 1, 64, 64, M::sliding, 500, true, 10, 40},
      // chunked (Llama 4): a query sees its own chunk only
      {"chunked 8, prefill, group 5", 10, 2, 64, 64, M::chunked, 8, false, 0, 37},
      {"chunked 40 from the middle of a chunk on a freed pages", 8, 2, 64, 64, M::chunked, 40, true, 70, 45},
      {"chunked 32 = one key tile, group 8, sinks", 8, 1, 128, 128, M::chunked, 32, true, 100, 20},
      {"chunked 50, group 1, 3 chunks", 2, 2, 64, 64, M::chunked, 50, false, 0, 130},
  };
  std::uint32_t seed = 1200;
  for (const auto& c : cases) run_cached_attention_case(cpu_, gpu(), c, seed += 10, /*decode=*/false);
}

TEST_F(CudaOps, PrefillAttentionWideAndUnequalHeadDims) {
  using M = cfg::Mixer;
  const CachedAttentionCase cases[] = {
      {"head_dim 192, v_dim 128 (DeepSeek-style), group 8", 16, 2, 192, 128, M::full, 0, true, 20, 13},
      {"head_dim 64, v_dim 96", 4, 2, 64, 96, M::sliding, 20, false, 30, 40},
      {"head_dim 128, v_dim 64", 8, 2, 128, 64, M::full, 0, true, 0, 41},
      {"head dims 256, group 4: 8-row blocks", 8, 2, 256, 256, M::full, 0, true, 5, 9},
      {"head dims 256, group 16: rows over tokens", 16, 1, 256, 256, M::chunked, 16, false, 10, 7},
      {"head_dim 80, v_dim 40: partial dim slots", 6, 3, 80, 40, M::full, 0, false, 12, 35},
  };
  std::uint32_t seed = 1400;
  for (const auto& c : cases) run_cached_attention_case(cpu_, gpu(), c, seed += 10, /*decode=*/false);
}

TEST_F(CudaOps, PrefillAttentionRowsPerBlockFit48KB) {
  AttentionArgs a{8, 8, 128, 128, 0.1f, cfg::Mixer::full, 0, nullptr};
  EXPECT_EQ(gpu::detail::flash_block_rows(a), 32);
  a.kv_heads = 2;  // group 4: 8 tokens
  EXPECT_EQ(gpu::detail::flash_block_rows(a), 32);
  a = {10, 2, 64, 64, 0.1f, cfg::Mixer::full, 0, nullptr};  // group 5: 6 whole tokens
  EXPECT_EQ(gpu::detail::flash_block_rows(a), 30);
  a = {16, 2, 192, 128, 0.1f, cfg::Mixer::full, 0, nullptr};  // group 8: 3 tokens
  EXPECT_EQ(gpu::detail::flash_block_rows(a), 24);
  a = {16, 1, 256, 256, 0.1f, cfg::Mixer::full, 0, nullptr};  // group 16 > 11 rows
  EXPECT_EQ(gpu::detail::flash_block_rows(a), 11);
  a.kv_heads = 4;  // group 4: 2 tokens
  EXPECT_EQ(gpu::detail::flash_block_rows(a), 8);
  const auto bytes = sizeof(gpu::detail::FlashSharedStorage) +
                     std::size_t(gpu::detail::flash_shared_floats(11, 256, 256)) * sizeof(float);
  EXPECT_LE(bytes, std::size_t(48 * 1024));
}

}  // namespace
