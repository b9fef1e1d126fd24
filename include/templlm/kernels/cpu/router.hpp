// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/router.hpp
/// Flat top-k routing from router logits: softmax over all experts then top-k (Mixtral, Qwen3),
/// top-k then softmax over the selected logits (GPT-OSS), or top-k then sigmoid (Llama 4);
/// optional renormalisation. Ties go to the lower expert index, as torch.topk on the CPU.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"

namespace templlm::cpu {

/// logits [T, E] -> ids [T, K] (descending score) and weights [T, K].
inline void route_topk(MatrixView<int> ids, MatrixView<float> weights, MatrixView<const float> logits,
                       const cfg::TopK& r) {
  const int e = r.experts, k = r.active;
  check(logits.cols == e && ids.cols == k && weights.cols == k && ids.rows == logits.rows,
        "templlm: route_topk: shapes disagree");
  std::vector<float> score(e);
  std::vector<int> order(e);
  for (std::int64_t t = 0; t < logits.rows; ++t) {
    const float* l = logits.row(t);
    const bool softmax_all = r.score == cfg::Score::softmax && !r.score_after_topk;
    if (softmax_all) {
      const float max = *std::max_element(l, l + e);
      float sum = 0.0f;
      for (int i = 0; i < e; ++i) sum += (score[i] = std::exp(l[i] - max));
      for (int i = 0; i < e; ++i) score[i] /= sum;
    } else {
      std::copy(l, l + e, score.begin());
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
      return score[a] > score[b] || (score[a] == score[b] && a < b);
    });
    float* w = weights.row(t);
    for (int i = 0; i < k; ++i) {
      ids.row(t)[i] = order[i];
      w[i] = score[order[i]];
    }
    if (r.score == cfg::Score::sigmoid) {
      for (int i = 0; i < k; ++i) w[i] = math::sigmoid(w[i]);
    } else if (r.score_after_topk) {
      const float max = w[0];
      float sum = 0.0f;
      for (int i = 0; i < k; ++i) sum += (w[i] = std::exp(w[i] - max));
      for (int i = 0; i < k; ++i) w[i] /= sum;
    }
    if (r.renormalize && !r.score_after_topk) {
      float sum = 0.0f;
      for (int i = 0; i < k; ++i) sum += w[i];
      for (int i = 0; i < k; ++i) w[i] /= sum;
    }
  }
}

}  // namespace templlm::cpu
