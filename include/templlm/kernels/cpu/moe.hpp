// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/moe.hpp
/// Routed experts: for each expert in ascending index order, gather the tokens routed to it,
/// run its gated FFN, and add weight * output to those tokens' rows. Ascending order is what HF
/// does (index_add_ over the hit experts), and with top-k >= 3 the order changes the bits.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "../../core/aligned_buffer.hpp"
#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"
#include "linear.hpp"

namespace templlm::cpu {

using ExpertWeights = templlm::ExpertWeights<Host>;

/// h = act(gate(x), up(x)) for a gated FFN; out = down(h).
inline void gated_ffn(ThreadPool& pool, MatrixView<float> out, MatrixView<const float> x,
                      const ExpertWeights& w, const cfg::SwiGlu& f, AlignedBuffer<float>& scratch) {
  const std::int64_t t = x.rows, inter = f.intermediate;
  scratch.resize(static_cast<std::size_t>(2 * t * inter));
  MatrixView<float> gate(scratch.data(), t, inter), up(scratch.data() + t * inter, t, inter);
  linear(pool, gate, x, w.gate, w.gate_bias);
  linear(pool, up, x, w.up, w.up_bias);
  for (std::int64_t i = 0; i < t * inter; ++i)
    gate.data[i] = f.clamp > 0.0f ? math::clamped_swiglu(gate.data[i], up.data[i], f.clamp, f.alpha)
                                  : math::swiglu(gate.data[i], up.data[i]);
  linear(pool, out, gate, w.down, w.down_bias);
}

/// Per-call scratch, owned by the caller so a forward never allocates once warmed up.
struct MoeScratch {
  AlignedBuffer<float> x, y, ffn;
  std::vector<std::int64_t> rows;
  std::vector<float> row_weight;
};

/// out[t] = sum over the K experts of token t, ascending expert index, of weight * expert(x[t]).
/// `input_scale`: Llama 4 scales the expert *input* by the routing weight instead of the output.
inline void moe_experts(ThreadPool& pool, MatrixView<float> out, MatrixView<const float> x,
                        MatrixView<const int> ids, MatrixView<const float> weights,
                        std::span<const ExpertWeights> experts, const cfg::SwiGlu& f,
                        bool input_scale, MoeScratch& s) {
  const std::int64_t t_count = x.rows, h = x.cols, k = ids.cols;
  for (std::int64_t t = 0; t < t_count; ++t) std::fill(out.row(t), out.row(t) + out.cols, 0.0f);
  for (std::size_t e = 0; e < experts.size(); ++e) {
    s.rows.clear();
    s.row_weight.clear();
    for (std::int64_t t = 0; t < t_count; ++t)
      for (std::int64_t j = 0; j < k; ++j)
        if (ids.row(t)[j] == static_cast<int>(e)) {
          s.rows.push_back(t);
          s.row_weight.push_back(weights.row(t)[j]);
        }
    const auto n = static_cast<std::int64_t>(s.rows.size());
    if (n == 0) continue;
    s.x.resize(static_cast<std::size_t>(n * h));
    s.y.resize(static_cast<std::size_t>(n * out.cols));
    MatrixView<float> xe(s.x.data(), n, h), ye(s.y.data(), n, out.cols);
    for (std::int64_t i = 0; i < n; ++i) {
      const float scale = input_scale ? s.row_weight[i] : 1.0f;
      for (std::int64_t c = 0; c < h; ++c) xe.row(i)[c] = x.row(s.rows[i])[c] * scale;
    }
    gated_ffn(pool, ye, xe, experts[e], f, s.ffn);
    for (std::int64_t i = 0; i < n; ++i) {
      const float scale = input_scale ? 1.0f : s.row_weight[i];
      float* o = out.row(s.rows[i]);
      for (std::int64_t c = 0; c < out.cols; ++c) o[c] += ye.row(i)[c] * scale;
    }
  }
}

}  // namespace templlm::cpu
