// SPDX-License-Identifier: Apache-2.0
// Included at the end of tests/cuda/ops_test.cu (one TU keeps nvcc's compile time down).
// The absorbed form of gpu::mla_attention (kernels/cuda/mla_decode.cuh: q~ = W_UK^T q_nope from
// kv_b as stored, split-KV attention over the latent cache for blocks of heads, a log-sum-exp
// merge fused with out = W_UV o~) against the CPU backend: caches within one partition, exactly
// one, several with a partial last one, a few tokens across a partition edge, heads that are
// not a multiple of the block's rows, DeepSeek-V3's dims (rank 512, rope 64) and tiny fixture
// dims, f32, bf16 and FP8-block kv_b.

namespace {

struct MlaDecodeCase {
  const char* what;
  int heads, nope, rope, v, rank;
  std::int64_t prefix, chunk;  // positions already cached, tokens of this chunk
  int kv_b;                    // 0: f32, 1: bf16, 2: FP8 blocks of `block`
  int block = 16;
};

/// kv_b for a case, scaled so that the scores spread over a few units (neither uniform nor
/// one-hot attention: the merge and the partition edges must matter).
struct MlaKvB {
  HostWeight plain;
  RawWeight fp8;
  WeightView<Host> view;
  float q_scale = 1.0f;
  MlaKvB(const MlaDecodeCase& c, std::uint32_t seed) {
    const std::int64_t rows = std::int64_t(c.heads) * (c.nope + c.v);
    if (c.kv_b == 2) {
      fp8 = fp8_block_weight(rows, c.rank, c.block, seed);
      view = fp8.view;
      q_scale = 0.1f / std::sqrt(float(c.rank));  // random e4m3 bytes times ~0.025: large entries
    } else {
      plain = make_weight(c.kv_b == 0 ? DType::f32 : DType::bf16, {rows, c.rank}, seed,
                          1.0f / std::sqrt(float(c.rank)));
      view = plain.view;
    }
  }
};

/// The CPU's batched op over its pages (absorbed for one token, expanded for more: equal up to
/// re-association) against the GPU's batched op with the absorbed form for chunks of up to
/// c.chunk tokens (the backend's own op takes it for single tokens only), reading its pages.
void run_mla_decode_case(cpu::Backend& cpu, gpu::Backend& gpu, const MlaDecodeCase& c, std::uint32_t seed) {
  SCOPED_TRACE(c.what);
  const std::int64_t width = c.rank + c.rope, qk = c.nope + c.rope;
  KvTwin cache(cpu, gpu, {width, 0, cfg::Mixer::full, 0});
  Twin l0(gpu, std::max<std::int64_t>(c.prefix, 1), width, ++seed);
  if (c.prefix > 0) {  // fill the cache through both backends' kv_store (no values)
    const auto rows = l0.cpu().row_range(0, c.prefix);
    const auto grows = l0.gpu().row_range(0, c.prefix);
    cache.begin(c.prefix);
    cpu.kv_store(cache.cpu_pages(), cache.cpu_batch(), rows, rows);
    gpu.kv_store(cache.gpu_pages(), cache.gpu_batch(), grows, grows);
    cache.commit(c.prefix);
  }
  const MlaKvB kv_b(c, ++seed);
  Twin q(gpu, c.chunk, std::int64_t(c.heads) * qk, ++seed, kv_b.q_scale);
  Twin latent(gpu, c.chunk, width, ++seed);
  Twin out(gpu, c.chunk, std::int64_t(c.heads) * c.v, ++seed);  // garbage: fully written
  const MlaArgs a{c.heads, c.nope, c.rope, c.v, c.rank, float(1.0 / std::sqrt(double(qk))), true};
  cache.begin(c.chunk);
  cpu.mla_attention(out.cpu(), q.cpu(), latent.cpu(), cache.cpu_pages(), cache.cpu_batch(), kv_b.view, a);
  gpu::MlaWorkspace ws;
  gpu::mla_attention_batch(nullptr, gpu.stream(), ws, out.gpu(), q.gpu(), latent.gpu(), cache.gpu_pages(),
                           cache.gpu_batch(), gpu.upload(kv_b.view), a, c.chunk);
  EXPECT_EQ(ws.w.capacity(), 0u) << "the expanded form ran";
  EXPECT_LE(out.error(gpu), op_tolerance);
}

TEST_F(CudaOps, MlaDecodeSplitsTheLatentCacheAndBlocksTheHeads) {
  const MlaDecodeCase cases[] = {
      {"1 position, bf16", 3, 16, 8, 12, 32, 0, 1, 1},
      {"31 positions (one partial tile), f32", 4, 16, 8, 16, 16, 30, 1, 0},
      {"256 positions = one partition, bf16", 5, 24, 16, 20, 48, 255, 1, 1},
      {"257 positions: a 1-position second partition, FP8", 4, 16, 8, 16, 32, 256, 1, 2},
      {"700 positions, 20 heads (row blocks of 16 + 4), FP8", 20, 16, 16, 16, 64, 699, 1, 2},
      {"1300 positions, 17 heads, bf16", 17, 32, 16, 24, 64, 1299, 1, 1},
      {"rank 64 = rope 64, 600 positions, bf16", 6, 32, 64, 32, 64, 599, 1, 1},
  };
  std::uint32_t seed = 1000;
  for (const auto& c : cases) run_mla_decode_case(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, MlaDecodeSeveralTokensAcrossAPartitionEdge) {
  // Query rows of different tokens share blocks (rows t * heads + h) and see different prefixes;
  // the last partition holds positions only the later tokens see.
  const MlaDecodeCase cases[] = {
      {"3 tokens at positions 254..256, 5 heads", 5, 16, 8, 12, 32, 254, 3, 1},
      {"4 tokens at 509..512, 7 heads: blocks split tokens", 7, 16, 8, 16, 16, 509, 4, 2},
      {"2 tokens, the second alone in its partition", 3, 24, 16, 20, 48, 255, 2, 0},
  };
  std::uint32_t seed = 1100;
  for (const auto& c : cases) run_mla_decode_case(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, MlaDecodeAtDeepSeekV3Dims) {
  const MlaDecodeCase cases[] = {
      {"V3 dims, 3 heads, 40 positions, bf16", 3, 128, 64, 128, 512, 39, 1, 1},
      {"V3 dims, 18 heads, 300 positions, FP8 blocks of 128", 18, 128, 64, 128, 512, 299, 1, 2, 128},
      {"V3 dims, 2 tokens, 2 heads, f32", 2, 128, 64, 128, 512, 20, 2, 0},
  };
  std::uint32_t seed = 1200;
  for (const auto& c : cases) run_mla_decode_case(cpu_, gpu(), c, seed += 10);
}

TEST_F(CudaOps, MlaDecodeReadsKvBAsStoredAndKeepsItsScratch) {
  // Called directly with its own workspace: the absorbed form leaves the fp32 copy of kv_b (the
  // expanded form's) untouched, and a shorter call reuses the grown scratch.
  const MlaDecodeCase c{"", 4, 16, 8, 12, 32, 300, 1, 1};
  const std::int64_t width = c.rank + c.rope;
  Twin l0(gpu(), 400, width, 1301);
  const MlaKvB kv_b(c, 1302);
  const auto dkv_b = gpu().upload(kv_b.view);
  gpu::MlaWorkspace ws;
  for (std::int64_t prefix : {300, 40}) {
    SCOPED_TRACE(prefix);
    Twin q(gpu(), 1, c.heads * (c.nope + c.rope), 1303 + std::uint32_t(prefix));
    Twin latent(gpu(), 1, width, 1304 + std::uint32_t(prefix));
    Twin out(gpu(), 1, c.heads * c.v, 1305);
    const MlaArgs a{c.heads, c.nope, c.rope, c.v, c.rank, 0.2f, true};
    KvTwin cache(cpu_, gpu(), {width, 0, cfg::Mixer::full, 0});
    const auto rows = l0.cpu().row_range(0, prefix);
    const auto grows = l0.gpu().row_range(0, prefix);
    cache.begin(prefix);
    cpu_.kv_store(cache.cpu_pages(), cache.cpu_batch(), rows, rows);
    gpu().kv_store(cache.gpu_pages(), cache.gpu_batch(), grows, grows);
    cache.commit(prefix);
    cache.begin(1);
    cpu_.mla_attention(out.cpu(), q.cpu(), latent.cpu(), cache.cpu_pages(), cache.cpu_batch(), kv_b.view, a);
    const float* partials = ws.absorbed.partials.data();
    gpu::mla_attention_batch(nullptr, gpu().stream(), ws, out.gpu(), q.gpu(), latent.gpu(), cache.gpu_pages(),
                             cache.gpu_batch(), dkv_b, a, 1);
    EXPECT_LE(out.error(gpu()), op_tolerance);
    EXPECT_EQ(ws.w.capacity(), 0u) << "kv_b decoded to fp32";
    if (prefix == 40) EXPECT_EQ(ws.absorbed.partials.data(), partials) << "the scratch only grows";
  }
}

TEST_F(CudaOps, MlaDecodeRowsFitTheSharedMemoryOrRefuse) {
  // V3's latent row (576 floats): 16 rows a block within an H100's 227 KB, 11 within the
  // 99 KB of an sm_86 part, none within the 48 KB of a launch without opt-in.
  EXPECT_EQ(gpu::detail::mla_decode_block_rows(576, 227 * 1024), 16);
  EXPECT_EQ(gpu::detail::mla_decode_block_rows(576, 99 * 1024), 11);
  EXPECT_EQ(gpu::detail::mla_decode_block_rows(576, 48 * 1024), 0);
  EXPECT_EQ(gpu::detail::mla_decode_block_rows(48, 48 * 1024), 16);
  // A rank above the kernel's 512 is refused with a sentence, not run wrong.
  const int heads = 1, nope = 8, rope = 8, v = 8, rank = 520;
  KvTwin cache(cpu_, gpu(), {rank + rope, 0, cfg::Mixer::full, 0});
  cache.begin(1);
  auto kv_b = make_weight(DType::bf16, {heads * (nope + v), rank}, 1401);
  Twin q(gpu(), 1, nope + rope, 1402), latent(gpu(), 1, rank + rope, 1403), out(gpu(), 1, v, 1404);
  const MlaArgs a{heads, nope, rope, v, rank, 0.25f, true};
  EXPECT_THROW(gpu().mla_attention(out.gpu(), q.gpu(), latent.gpu(), cache.gpu_pages(), cache.gpu_batch(),
                                   gpu().upload(kv_b.view), a),
               Unsupported);
}

}  // namespace
