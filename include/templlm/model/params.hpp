// SPDX-License-Identifier: Apache-2.0
/// \file model/params.hpp
/// Parameter counts derived at compile time from a description, so the published figures can be
/// static_asserted against the structs (model/all.hpp). Each component type contributes through
/// parameter_count(const T&, hidden), found by ADL in T's namespace (below for the cfg:: types).
#pragma once
#include <cstdint>
#include <concepts>
#include <type_traits>

#include "../core/concepts.hpp"
#include "../core/config.hpp"
#include "../core/type_list.hpp"

namespace templlm::model {

struct ParamCount {
  std::int64_t total = 0;   // every weight in the checkpoint the description reads
  std::int64_t active = 0;  // weights one token touches (routed experts: only the active ones),
                            // counted as the publisher counts (M::active_counts_embedding)
  std::int64_t embedding = 0;  // the input embedding table (publishers differ on counting it)
  std::int64_t output_head = 0;  // lm_head, 0 when tied
  std::int64_t vision = 0;  // the image encoder and its projection (in total; not in active: a
                            // text token does not touch it)
};

}  // namespace templlm::model

/// The per-component counts, found by argument-dependent lookup: each is declared in its config
/// type's namespace, so an out-of-tree component declares its own
///   constexpr std::int64_t parameter_count(const MyType&, std::int64_t hidden);
/// (and, for a router, routed_experts / active_experts) next to MyType, with no include-order
/// dependence on this header.
namespace templlm::cfg {
using i64 = std::int64_t;

constexpr i64 parameter_count(const Gqa& a, i64 hidden) {
  const i64 q = i64(a.heads) * a.head_dim, kv = i64(a.kv_heads) * a.head_dim;
  i64 n = hidden * q + 2 * hidden * kv + q * hidden;
  if (a.qkv_bias) n += q + 2 * kv;
  if (a.o_bias) n += hidden;
  if (a.qk_norm == QkNorm::rms) n += 2 * a.head_dim;
  if (a.sinks) n += a.heads;
  return n;
}
constexpr i64 parameter_count(const Mla& a, i64 hidden) {
  const i64 qk_head = a.qk_nope_dim + a.qk_rope_dim;
  const i64 q = a.q_lora_rank > 0
                    ? hidden * a.q_lora_rank + a.q_lora_rank + i64(a.q_lora_rank) * a.heads * qk_head
                    : hidden * a.heads * qk_head;
  const i64 kv = hidden * (a.kv_lora_rank + a.qk_rope_dim) + a.kv_lora_rank +
                 i64(a.kv_lora_rank) * a.heads * (a.qk_nope_dim + a.v_head_dim);
  return q + kv + i64(a.heads) * a.v_head_dim * hidden;
}

constexpr i64 parameter_count(const SwiGlu& f, i64 hidden) {
  i64 n = 3 * hidden * f.intermediate;
  if (f.bias) n += 2 * i64(f.intermediate) + hidden;
  return n;
}
constexpr i64 parameter_count(const NoDenseFfn&, i64) { return 0; }
constexpr i64 parameter_count(const NoMoe&, i64) { return 0; }  // as router and as expert

constexpr i64 parameter_count(const TopK& r, i64 hidden) {
  return i64(r.experts) * hidden + (r.bias ? r.experts : 0);
}
constexpr i64 parameter_count(const GroupedTopK& r, i64 hidden) {
  return i64(r.experts) * hidden + (r.correction_bias ? r.experts : 0);
}

constexpr i64 routed_experts(const TopK& r) { return r.experts; }
constexpr i64 routed_experts(const GroupedTopK& r) { return r.experts; }
constexpr i64 routed_experts(const NoMoe&) { return 0; }
constexpr i64 active_experts(const TopK& r) { return r.active; }
constexpr i64 active_experts(const GroupedTopK& r) { return r.active; }
constexpr i64 active_experts(const NoMoe&) { return 0; }

constexpr i64 parameter_count(const SharedExpert& s, i64 hidden) {
  return i64(s.count) * 3 * hidden * s.intermediate;
}
constexpr i64 parameter_count(const NoSharedExpert&, i64) { return 0; }

constexpr i64 parameter_count(const NoVision&, i64) { return 0; }
/// The tower, its adapter and the projection into the text model (text_hidden wide).
constexpr i64 parameter_count(const Llama4Vision& v, i64 text_hidden) {
  const i64 h = v.hidden, grid = v.image_size / v.patch_size, positions = grid * grid + 1;
  const i64 layer = 4 * (h * h + h) + (h * v.intermediate + v.intermediate) + (i64(v.intermediate) * h + h) + 4 * h;
  return i64(v.channels) * v.patch_size * v.patch_size * h + h + positions * h + 4 * h + v.layers * layer +
         i64(v.intermediate) * v.projector_input + i64(v.projector_output) * v.projector_output +
         i64(v.vision_output) * text_hidden;
}
}  // namespace templlm::cfg

namespace templlm::model {

/// Whether parameter_count(c, hidden) is found for a component c (by ADL in its type's namespace).
template <class C>
concept CountsParameters = requires(const C& c, std::int64_t h) {
  { parameter_count(c, h) } -> std::convertible_to<std::int64_t>;
};
template <class R>
concept CountsExperts = requires(const R& r) {
  { routed_experts(r) } -> std::convertible_to<std::int64_t>;
  { active_experts(r) } -> std::convertible_to<std::int64_t>;
};

template <class M>
constexpr ParamCount param_count() {
  static_assert(check_description<M>());
  using i64 = std::int64_t;
  using A = std::remove_cvref_t<decltype(M::attention)>;
  static_assert(CountsParameters<A>,
                "templlm: param_count needs parameter_count(const T&, std::int64_t hidden) for the type "
                "of M::attention, declared in that type's namespace (found by ADL)");
  const i64 h = M::dims.hidden;
  ParamCount c;
  c.embedding = i64(M::dims.vocab) * h;
  c.output_head = M::tied_embeddings ? 0 : i64(M::dims.vocab) * h;
  c.total = c.active = c.embedding + c.output_head + h;  // + final norm
  for (int i = 0; i < M::dims.layers; ++i) {
    const i64 common = 2 * h + parameter_count(M::attention, h);
    c.total += common;
    c.active += common;
    if (M::layer(i).ffn == cfg::Ffn::dense) {
      if constexpr (CountsParameters<std::remove_cvref_t<decltype(M::dense_ffn)>>) {
        const i64 dense = parameter_count(M::dense_ffn, h);
        c.total += dense;
        c.active += dense;
      } else {
        static_assert(dependent_false<M>,
                      "templlm: param_count needs parameter_count(const T&, std::int64_t hidden) for "
                      "the type of M::dense_ffn, declared in that type's namespace (found by ADL)");
      }
    } else {
      using E = std::remove_cvref_t<decltype(M::expert)>;
      using R = std::remove_cvref_t<decltype(M::router)>;
      using S = std::remove_cvref_t<decltype(M::shared)>;
      static_assert(CountsParameters<E>,
                    "templlm: param_count needs parameter_count(const T&, std::int64_t hidden) for the "
                    "type of M::expert, declared in that type's namespace (found by ADL)");
      static_assert(CountsParameters<R> && CountsExperts<R>,
                    "templlm: param_count needs parameter_count(const T&, std::int64_t hidden), "
                    "routed_experts(const T&) and active_experts(const T&) for the type of M::router, "
                    "declared in that type's namespace (found by ADL)");
      static_assert(CountsParameters<S>,
                    "templlm: param_count needs parameter_count(const T&, std::int64_t hidden) for the "
                    "type of M::shared, declared in that type's namespace (found by ADL)");
      const i64 expert = parameter_count(M::expert, h);
      const i64 fixed = parameter_count(M::router, h) + parameter_count(M::shared, h);
      c.total += fixed + routed_experts(M::router) * expert;
      c.active += fixed + active_experts(M::router) * expert;
    }
  }
  if (!M::active_counts_embedding) c.active -= c.embedding;
  if constexpr (requires { M::vision; }) {
    using V = std::remove_cvref_t<decltype(M::vision)>;
    static_assert(CountsParameters<V>,
                  "templlm: param_count needs parameter_count(const T&, std::int64_t hidden) for the type "
                  "of M::vision, declared in that type's namespace (found by ADL)");
    c.vision = parameter_count(M::vision, h);
    c.total += c.vision;
  }
  return c;
}

/// |counted - published| <= 2% of published.
constexpr bool within_two_percent(double counted, double published) {
  const double d = counted - published;
  return (d < 0 ? -d : d) <= 0.02 * published;
}

}  // namespace templlm::model
