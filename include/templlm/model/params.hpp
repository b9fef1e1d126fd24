// SPDX-License-Identifier: Apache-2.0
/// \file model/params.hpp
/// Parameter counts derived at compile time from a description, so the published figures can be
/// static_asserted against the structs (model/all.hpp). One overload per component config type:
/// a new component type adds one overload here.
#pragma once
#include <cstdint>
#include <type_traits>

#include "../core/concepts.hpp"
#include "../core/config.hpp"

namespace templlm::model {

struct ParamCount {
  std::int64_t total = 0;   // every weight in the checkpoint the description reads
  std::int64_t active = 0;  // weights one token touches (routed experts: only the active ones),
                            // counted as the publisher counts (M::active_counts_embedding)
  std::int64_t embedding = 0;  // the input embedding table (publishers differ on counting it)
  std::int64_t output_head = 0;  // lm_head, 0 when tied
};

namespace detail {
using i64 = std::int64_t;

constexpr i64 attention_params(const cfg::Gqa& a, i64 hidden) {
  const i64 q = i64(a.heads) * a.head_dim, kv = i64(a.kv_heads) * a.head_dim;
  i64 n = hidden * q + 2 * hidden * kv + q * hidden;
  if (a.qkv_bias) n += q + 2 * kv;
  if (a.o_bias) n += hidden;
  if (a.qk_norm == cfg::QkNorm::rms) n += 2 * a.head_dim;
  if (a.sinks) n += a.heads;
  return n;
}
constexpr i64 attention_params(const cfg::Mla& a, i64 hidden) {
  const i64 qk_head = a.qk_nope_dim + a.qk_rope_dim;
  const i64 q = a.q_lora_rank > 0
                    ? hidden * a.q_lora_rank + a.q_lora_rank + i64(a.q_lora_rank) * a.heads * qk_head
                    : hidden * a.heads * qk_head;
  const i64 kv = hidden * (a.kv_lora_rank + a.qk_rope_dim) + a.kv_lora_rank +
                 i64(a.kv_lora_rank) * a.heads * (a.qk_nope_dim + a.v_head_dim);
  return q + kv + i64(a.heads) * a.v_head_dim * hidden;
}

constexpr i64 ffn_params(const cfg::SwiGlu& f, i64 hidden) {
  i64 n = 3 * hidden * f.intermediate;
  if (f.bias) n += 2 * i64(f.intermediate) + hidden;
  return n;
}
constexpr i64 ffn_params(const cfg::NoDenseFfn&, i64) { return 0; }
constexpr i64 ffn_params(const cfg::NoMoe&, i64) { return 0; }

constexpr i64 router_params(const cfg::TopK& r, i64 hidden) {
  return i64(r.experts) * hidden + (r.bias ? r.experts : 0);
}
constexpr i64 router_params(const cfg::GroupedTopK& r, i64 hidden) {
  return i64(r.experts) * hidden + (r.correction_bias ? r.experts : 0);
}
constexpr i64 router_params(const cfg::NoMoe&, i64) { return 0; }

constexpr i64 experts_of(const cfg::TopK& r) { return r.experts; }
constexpr i64 experts_of(const cfg::GroupedTopK& r) { return r.experts; }
constexpr i64 experts_of(const cfg::NoMoe&) { return 0; }
constexpr i64 active_of(const cfg::TopK& r) { return r.active; }
constexpr i64 active_of(const cfg::GroupedTopK& r) { return r.active; }
constexpr i64 active_of(const cfg::NoMoe&) { return 0; }

constexpr i64 shared_params(const cfg::SharedExpert& s, i64 hidden) {
  return i64(s.count) * 3 * hidden * s.intermediate;
}
constexpr i64 shared_params(const cfg::NoSharedExpert&, i64) { return 0; }
}  // namespace detail

template <ModelDescription M>
constexpr ParamCount param_count() {
  using detail::i64;
  const i64 h = M::dims.hidden;
  ParamCount c;
  c.embedding = i64(M::dims.vocab) * h;
  c.output_head = M::tied_embeddings ? 0 : i64(M::dims.vocab) * h;
  c.total = c.active = c.embedding + c.output_head + h;  // + final norm
  for (int i = 0; i < M::dims.layers; ++i) {
    const i64 common = 2 * h + detail::attention_params(M::attention, h);
    c.total += common;
    c.active += common;
    if (M::layer(i).ffn == cfg::Ffn::dense) {
      const i64 dense = detail::ffn_params(M::dense_ffn, h);
      c.total += dense;
      c.active += dense;
    } else {
      const i64 expert = detail::ffn_params(M::expert, h);
      const i64 fixed = detail::router_params(M::router, h) + detail::shared_params(M::shared, h);
      c.total += fixed + detail::experts_of(M::router) * expert;
      c.active += fixed + detail::active_of(M::router) * expert;
    }
  }
  if (!M::active_counts_embedding) c.active -= c.embedding;
  return c;
}

/// |counted - published| <= 2% of published.
constexpr bool within_two_percent(double counted, double published) {
  const double d = counted - published;
  return (d < 0 ? -d : d) <= 0.02 * published;
}

}  // namespace templlm::model
