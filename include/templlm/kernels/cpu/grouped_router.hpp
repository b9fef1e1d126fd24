// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/grouped_router.hpp
/// Node-limited routing (DeepSeek-V3, HF DeepseekV3TopkRouter): scores = sigmoid(logits);
/// choice = scores + correction bias (selection only); each group ranked by the sum of its two
/// best choice scores; the best groups_active groups kept, the others masked with -inf (the HF
/// version the fixtures pin); top-k of the masked choice scores; weights gathered from the
/// UNBIASED scores, divided by (sum + 1e-20) when renormalize, times routed_scale.
/// Ties go to the lower index (groups and experts), as torch.topk on the CPU.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"

namespace templlm::cpu {

/// logits [T, E], bias [E] (nullptr: none) -> ids [T, K] (descending choice score), weights [T, K].
inline void route_grouped_topk(MatrixView<int> ids, MatrixView<float> weights,
                               MatrixView<const float> logits, const float* bias,
                               const cfg::GroupedTopK& r) {
  const int e = r.experts, k = r.active, g = r.groups, per = r.experts / r.groups;
  check(logits.cols == e && ids.cols == k && weights.cols == k && ids.rows == logits.rows &&
            e % g == 0 && per >= 2 && r.groups_active <= g && k <= r.groups_active * per,
        "templlm: route_grouped_topk: shapes disagree");
  std::vector<float> score(e), choice(e), group_score(g);
  std::vector<int> order(e), gorder(g);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (std::int64_t t = 0; t < logits.rows; ++t) {
    const float* l = logits.row(t);
    for (int i = 0; i < e; ++i) {
      score[i] = r.score == cfg::Score::sigmoid ? math::sigmoid(l[i]) : l[i];
      choice[i] = bias ? score[i] + bias[i] : score[i];
    }
    for (int gi = 0; gi < g; ++gi) group_score[gi] = math::top2_sum(choice.data() + gi * per, per);
    std::iota(gorder.begin(), gorder.end(), 0);
    std::partial_sort(gorder.begin(), gorder.begin() + r.groups_active, gorder.end(), [&](int a, int b) {
      return group_score[a] > group_score[b] || (group_score[a] == group_score[b] && a < b);
    });
    std::vector<bool> keep(g, false);
    for (int i = 0; i < r.groups_active; ++i) keep[gorder[i]] = true;
    for (int i = 0; i < e; ++i)
      if (!keep[i / per]) choice[i] = neg_inf;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
      return choice[a] > choice[b] || (choice[a] == choice[b] && a < b);
    });
    float* w = weights.row(t);
    for (int i = 0; i < k; ++i) {
      ids.row(t)[i] = order[i];
      w[i] = score[order[i]];  // the unbiased score: the bias only selects
    }
    math::finish_routing_weights(w, k, r.renormalize, r.routed_scale);
  }
}

}  // namespace templlm::cpu
