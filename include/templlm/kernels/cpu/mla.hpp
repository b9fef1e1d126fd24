// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/mla.hpp
/// Multi-head latent attention (DeepSeek-V3) over a latent cache, HF eager semantics in fp32
/// (design/architectures.md §2.4, §2.5). The cache holds, per position, the normalised latent
/// c (kv_lora_rank floats) followed by the roped shared key k_pe (qk_rope_dim floats).
///  * expanded (HF's form, used for prefill): k_nope_h(s) = W_UK,h c(s), v_h(s) = W_UV,h c(s),
///    score = scale * (q_nope_h . k_nope_h(s) + q_pe_h . k_pe(s)), out_h = sum_s p v_h(s);
///  * absorbed (decode): q~_h = W_UK,h^T q_nope_h, score = scale * (q~_h . c(s) + q_pe_h . k_pe(s)),
///    o~_h = sum_s p c(s), out_h = W_UV,h o~_h. Equal up to re-association (~1e-6 relative).
/// kv_b is "kv_b_proj.weight" [heads * (nope + v), rank] (head h: rows h*(nope+v) .. +nope are
/// W_UK,h, the next v rows W_UV,h), in any stored dtype (FP8 blocks included).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "../../core/aligned_buffer.hpp"
#include "../../core/kv.hpp"
#include "../../core/math.hpp"
#include "../../core/mla_args.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"
#include "decode.hpp"

namespace templlm::cpu {

/// Rotates dims [offset, offset + 2 * inv_freq.size()) of each head (head_stride floats apart) of
/// x [T, heads * head_stride] at each row's position. Same arithmetic as cpu::rope.
inline void rope_part(MatrixView<float> x, int heads, int head_stride, int offset,
                      std::span<const int> positions, std::span<const float> inv_freq,
                      float attention_factor, cfg::RopeLayout layout) {
  const int half = static_cast<int>(inv_freq.size());
  check(std::int64_t(positions.size()) == x.rows && x.cols >= std::int64_t(heads) * head_stride &&
            offset + 2 * half <= head_stride && half <= 512,
        "templlm: rope_part: shapes disagree");
  float cos_v[512], sin_v[512];
  for (std::int64_t t = 0; t < x.rows; ++t) {
    for (int i = 0; i < half; ++i) {
      const float angle = math::rope_angle(inv_freq[i], positions[t]);
      cos_v[i] = std::cos(angle) * attention_factor;
      sin_v[i] = std::sin(angle) * attention_factor;
    }
    for (int h = 0; h < heads; ++h) {
      float* v = x.row(t) + std::int64_t(h) * head_stride + offset;
      for (int i = 0; i < half; ++i) {
        const int a = layout == cfg::RopeLayout::half_split ? i : 2 * i;
        const int b = layout == cfg::RopeLayout::half_split ? i + half : 2 * i + 1;
        const auto r = math::rotate(v[a], v[b], cos_v[i], sin_v[i]);
        v[a] = r.a;
        v[b] = r.b;
      }
    }
  }
}

/// out [T, heads * v] from q [T, heads * (nope + rope)] (rope part already rotated), the step's
/// latents [T, rank + rope] (normalised latent, roped k_pe) and each chunk's cached positions.
/// One call for the whole batch; single-token chunks use the absorbed form when a.absorb_decode.
template <KvElement T>
void mla_attention(ThreadPool& pool, MatrixView<float> out, MatrixView<const float> q,
                   MatrixView<const float> latent_new, const KvPages<T, Host>& cache,
                   const KvBatch& batch, const WeightView<Host>& kv_b, const MlaArgs& a) {
  const std::int64_t width = a.rank + a.rope, qk = a.nope + a.rope, hv = a.nope + a.v;
  check(q.cols == a.heads * qk && out.cols == std::int64_t(a.heads) * a.v && out.rows == q.rows &&
            latent_new.rows == q.rows && latent_new.cols == width && cache.k_width == width &&
            batch.rows == q.rows && kv_b.shape[0] == a.heads * hv && kv_b.cols() == a.rank,
        "templlm: mla_attention: shapes disagree");
  // Dequantised kv_b [heads * (nope + v), rank], decoded once per call (one layer at a time).
  thread_local AlignedBuffer<float> w;
  w.resize(static_cast<std::size_t>(a.heads * hv * a.rank));
  float* wdst = w.data();  // the calling thread's buffer: workers must not name `w` themselves
  pool.parallel_for(a.heads * hv, grain_for_work(a.rank, 64), [&](std::int64_t b, std::int64_t e) {
    decode_rows(wdst + b * a.rank, kv_b, b, e - b);
  });
  const float* wd = wdst;
  thread_local AlignedBuffer<float> kv, cached;
  for (std::size_t chunk = 0; chunk < batch.chunks.size(); ++chunk) {
    const StepChunk& ch = batch.chunks[chunk];
    const std::int64_t n = ch.tokens, start = ch.start, positions = start + n;
    const bool absorbed = a.absorb_decode && n == 1;
    // A bf16 cache's latents are decoded to fp32 rows once per call; fp32 is read in place.
    if constexpr (!std::is_same_v<T, float>) {
      cached.resize(static_cast<std::size_t>(start * width));
      for (std::int64_t j = 0; j < start; ++j) {
        const T* c = cache.k + batch.tables.slot(int(chunk), j) * cache.k_width;
        for (std::int64_t i = 0; i < width; ++i) cached.data()[j * width + i] = kv_load(c[i]);
      }
    }
    const float* cd = cached.data();
    auto latent = [&](std::int64_t j) -> const float* {
      if (j >= start) return latent_new.row(ch.first_row + j - start);
      if constexpr (std::is_same_v<T, float>) return cache.k + batch.tables.slot(int(chunk), j) * cache.k_width;
      else return cd + j * width;
    };
    // Expanded form: k_nope and v of every visible position, per head (HF: Linear(c; kv_b_proj)).
    if (!absorbed) {
      kv.resize(static_cast<std::size_t>(positions * a.heads * hv));
      float* kvd = kv.data();
      pool.parallel_for(positions, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t j = b; j < e; ++j) {
          const float* c = latent(j);
          for (std::int64_t r = 0; r < a.heads * hv; ++r) {
            const float* wr = wd + r * a.rank;
            float dot = 0.0f;
            for (int i = 0; i < a.rank; ++i) dot += c[i] * wr[i];
            kvd[j * a.heads * hv + r] = dot;
          }
        }
      });
    }
    const float* kvd = kv.data();
    pool.parallel_for(n * a.heads, grain_for_work(positions * (absorbed ? width : qk + a.v)),
                      [&](std::int64_t begin, std::int64_t end) {
      thread_local AlignedBuffer<float> scores, qt, ot;
      for (std::int64_t job = begin; job < end; ++job) {
        const std::int64_t t = ch.first_row + job / a.heads;
        const int h = static_cast<int>(job % a.heads);
        const std::int64_t p = start + job / a.heads;
        const float* qn = q.row(t) + std::int64_t(h) * qk;
        const float* qp = qn + a.nope;
        const float* wk = wd + std::int64_t(h) * hv * a.rank;  // W_UK,h [nope, rank]
        const float* wv = wk + std::int64_t(a.nope) * a.rank;  // W_UV,h [v, rank]
        if (absorbed) {
          qt.resize(static_cast<std::size_t>(a.rank));
          std::fill(qt.data(), qt.data() + a.rank, 0.0f);
          for (int d = 0; d < a.nope; ++d)
            for (int i = 0; i < a.rank; ++i) qt.data()[i] += qn[d] * wk[std::int64_t(d) * a.rank + i];
        }
        scores.resize(static_cast<std::size_t>(p + 1));
        float* s = scores.data();
        float max = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j <= p; ++j) {
          const float* c = latent(j);
          float dot = 0.0f;
          if (absorbed) {
            for (int i = 0; i < a.rank; ++i) dot += qt.data()[i] * c[i];
          } else {
            const float* kn = kvd + (j * a.heads + h) * hv;
            for (int d = 0; d < a.nope; ++d) dot += qn[d] * kn[d];
          }
          for (int d = 0; d < a.rope; ++d) dot += qp[d] * c[a.rank + d];
          s[j] = dot * a.scale;
          max = std::max(max, s[j]);
        }
        float denom = 0.0f;
        for (std::int64_t j = 0; j <= p; ++j) denom += (s[j] = std::exp(s[j] - max));
        float* o = out.row(t) + std::int64_t(h) * a.v;
        std::fill(o, o + a.v, 0.0f);
        if (absorbed) {
          ot.resize(static_cast<std::size_t>(a.rank));
          std::fill(ot.data(), ot.data() + a.rank, 0.0f);
          for (std::int64_t j = 0; j <= p; ++j) {
            const float pj = s[j] / denom;
            const float* c = latent(j);
            for (int i = 0; i < a.rank; ++i) ot.data()[i] += pj * c[i];
          }
          for (int d = 0; d < a.v; ++d) {
            const float* wr = wv + std::int64_t(d) * a.rank;
            float dot = 0.0f;
            for (int i = 0; i < a.rank; ++i) dot += wr[i] * ot.data()[i];
            o[d] = dot;
          }
        } else {
          for (std::int64_t j = 0; j <= p; ++j) {
            const float pj = s[j] / denom;
            const float* vj = kvd + (j * a.heads + h) * hv + a.nope;
            for (int d = 0; d < a.v; ++d) o[d] += pj * vj[d];
          }
        }
      }
    });
  }
}

}  // namespace templlm::cpu
