// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/vision.hpp
/// The CPU's vision ops (core/vision_backend.hpp), HF's semantics in fp32: LayerNorm with bias
/// (moments accumulated in double, so the result is the correctly rounded one torch's float
/// Welford approximates), exact GELU, a periodic row add (positional embeddings per tile), RoPE
/// by a per-row table of (cos, sin) pairs (Llama 4's 2-D vision RoPE, interleaved pairs),
/// bidirectional attention inside tiles, and a row gather (pixel shuffle, dropping CLS rows).
/// Thread safety: pure functions of their arguments; tile_attention uses the given pool.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "../../core/aligned_buffer.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"
#include "../../core/vision_backend.hpp"

namespace templlm::cpu {

/// y = LayerNorm(x) * w + b over each row; w, b: cols values. y may alias x.
inline void layer_norm(MatrixView<float> y, MatrixView<const float> x, const float* w, const float* b, float eps) {
  check(y.rows == x.rows && y.cols == x.cols, "templlm: layer_norm: shapes differ");
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const float* xr = x.row(r);
    float* yr = y.row(r);
    double sum = 0.0;
    for (std::int64_t c = 0; c < x.cols; ++c) sum += xr[c];
    const double mean_d = sum / double(x.cols);
    double var = 0.0;
    for (std::int64_t c = 0; c < x.cols; ++c) var += (xr[c] - mean_d) * (xr[c] - mean_d);
    const float mean = float(mean_d), rstd = math::layer_norm_rstd(float(var / double(x.cols)), eps);
    for (std::int64_t c = 0; c < x.cols; ++c) yr[c] = math::layer_norm(xr[c], mean, rstd, w[c], b[c]);
  }
}

inline void gelu(MatrixView<float> y) {
  for (std::int64_t r = 0; r < y.rows; ++r)
    for (std::int64_t c = 0; c < y.cols; ++c) y.row(r)[c] = math::gelu(y.row(r)[c]);
}

inline void add_periodic_rows(MatrixView<float> y, MatrixView<const float> table) {
  check(table.cols == y.cols && table.rows > 0 && y.rows % table.rows == 0,
        "templlm: add_periodic_rows: the table does not tile the rows");
  for (std::int64_t r = 0; r < y.rows; ++r) {
    const float* t = table.row(r % table.rows);
    for (std::int64_t c = 0; c < y.cols; ++c) y.row(r)[c] += t[c];
  }
}

/// Pairs (2j, 2j+1) of every head of row r rotated by table row (r % period): (cos_j, sin_j)
/// at columns 2j, 2j+1 (a complex multiplication, as HF's view_as_complex).
inline void rotate_pairs(MatrixView<float> x, int heads, int head_dim, MatrixView<const float> table) {
  check(x.cols == std::int64_t(heads) * head_dim && table.cols == head_dim && head_dim % 2 == 0 &&
            table.rows > 0 && x.rows % table.rows == 0,
        "templlm: rotate_pairs: shapes disagree");
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const float* cs = table.row(r % table.rows);
    for (int h = 0; h < heads; ++h) {
      float* v = x.row(r) + std::int64_t(h) * head_dim;
      for (int j = 0; j < head_dim / 2; ++j) {
        const math::Rotated o = math::rotate(v[2 * j], v[2 * j + 1], cs[2 * j], cs[2 * j + 1]);
        v[2 * j] = o.a;
        v[2 * j + 1] = o.b;
      }
    }
  }
}

inline void tile_attention(ThreadPool& pool, MatrixView<float> out, MatrixView<const float> q,
                           MatrixView<const float> k, MatrixView<const float> v, const TileAttentionArgs& a) {
  const std::int64_t n = q.rows, width = std::int64_t(a.heads) * a.head_dim;
  check(a.tile_rows > 0 && n % a.tile_rows == 0 && q.cols == width && k.cols == width && v.cols == width &&
            out.cols == width && k.rows == n && v.rows == n && out.rows == n,
        "templlm: tile_attention: shapes disagree");
  pool.parallel_for(n * a.heads, grain_for_work(a.tile_rows * 2 * a.head_dim), [&](std::int64_t begin, std::int64_t end) {
    thread_local AlignedBuffer<float> scores;
    scores.resize(std::size_t(a.tile_rows));
    float* s = scores.data();
    for (std::int64_t job = begin; job < end; ++job) {
      const std::int64_t t = job / a.heads, first = t / a.tile_rows * a.tile_rows;
      const std::int64_t off = std::int64_t(job % a.heads) * a.head_dim;
      const float* qh = q.row(t) + off;
      float max = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = 0; j < a.tile_rows; ++j) {
        const float* kj = k.row(first + j) + off;
        float dot = 0.0f;
        for (int d = 0; d < a.head_dim; ++d) dot += qh[d] * kj[d];
        s[j] = dot * a.scale;
        max = std::max(max, s[j]);
      }
      float denom = 0.0f;
      for (std::int64_t j = 0; j < a.tile_rows; ++j) denom += (s[j] = std::exp(s[j] - max));
      float* o = out.row(t) + off;
      std::fill(o, o + a.head_dim, 0.0f);
      for (std::int64_t j = 0; j < a.tile_rows; ++j) {
        const float w = s[j] / denom;
        const float* vj = v.row(first + j) + off;
        for (int d = 0; d < a.head_dim; ++d) o[d] += w * vj[d];
      }
    }
  });
}

inline void gather_rows(MatrixView<float> y, MatrixView<const float> x, MatrixView<const int> rows) {
  check(rows.rows == y.rows && rows.cols == 1 && x.cols == y.cols, "templlm: gather_rows: shapes disagree");
  for (std::int64_t r = 0; r < y.rows; ++r) {
    const int s = rows.row(r)[0];
    check(s >= 0 && s < x.rows, "templlm: gather_rows: a row index is out of range");
    std::copy_n(x.row(s), x.cols, y.row(r));
  }
}

}  // namespace templlm::cpu
