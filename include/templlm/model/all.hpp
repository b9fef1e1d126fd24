// SPDX-License-Identifier: Apache-2.0
/// \file model/all.hpp
/// The one registry of model descriptions: AllModels (the released MoE checkpoints the library
/// supports), DenseModels (dense Qwen3) and TinyModels (the test twins). A checkpoint's
/// config.json is matched against these lists by a fold (core/type_list.hpp), never a switch.
/// The static_asserts below check every real description against its publisher's parameter
/// counts, so a mistyped size fails the build.
#pragma once
#include "../core/concepts.hpp"
#include "../core/type_list.hpp"
#include "deepseek_v3.hpp"
#include "gpt_oss.hpp"
#include "llama3.hpp"
#include "llama4.hpp"
#include "mixtral.hpp"
#include "params.hpp"
#include "qwen2.hpp"
#include "qwen3.hpp"
#include "qwen3_moe.hpp"

namespace templlm::model {

using AllModels = TypeList<GptOss120B, GptOss20B, DeepSeekV3, Qwen3_235B_A22B, Qwen3_30B_A3B,
                           Llama4Scout, Llama4Maverick, Llama4ScoutText, Llama4MaverickText,
                           Mixtral8x22B, Mixtral8x7B>;

using DenseModels = TypeList<Qwen3_0_6B, Qwen3_1_7B, Qwen3_4B, Qwen3_8B, Qwen3_14B, Qwen3_32B>;

using TinyModels = TypeList<GptOssTiny, DeepSeekV3Tiny, Qwen3MoeTiny, Qwen3Tiny, Llama4ScoutTiny,
                            Llama4MaverickTiny, MixtralTiny, Llama4ScoutTinyText, Llama4ScoutVisionTiny>;

/// The embedded demo model (models/demo), which `templlm generate` uses without --model.
using DemoModels = TypeList<TemplDemo>;

/// The dense DeepSeek-R1 distills (plain Qwen2 / Llama 3.1) and their tiny twins.
using DistillModels = TypeList<DeepSeekR1DistillQwen1_5B, DeepSeekR1DistillQwen7B, DeepSeekR1DistillQwen14B,
                               DeepSeekR1DistillQwen32B, DeepSeekR1DistillLlama8B, DeepSeekR1DistillLlama70B,
                               Qwen2Tiny, Llama3Tiny>;

namespace detail {
template <class... Ms>
constexpr bool all_describe_models(TypeList<Ms...>) {
  return (ModelDescription<Ms> && ...);
}
}  // namespace detail

static_assert(detail::all_describe_models(AllModels{}),
              "templlm: every AllModels entry must satisfy ModelDescription");
static_assert(detail::all_describe_models(DenseModels{}),
              "templlm: every DenseModels entry must satisfy ModelDescription");
static_assert(detail::all_describe_models(DistillModels{}),
              "templlm: every DistillModels entry must satisfy ModelDescription");

/// Every description a full `templlm` binary can load: the one list the CLI folds over.
using LoadableModels = decltype(concat(
    concat(concat(concat(AllModels{}, DenseModels{}), DistillModels{}), DemoModels{}), TinyModels{}));
static_assert(detail::all_describe_models(TinyModels{}),
              "templlm: every TinyModels entry must satisfy ModelDescription");
static_assert(detail::all_describe_models(DemoModels{}),
              "templlm: every DemoModels entry must satisfy ModelDescription");

// Published parameter counts, each counted the way its publisher counts. param_count<M>()
// includes the input embedding, the output head and every norm; `active` counts the router,
// shared expert and `active` routed experts of each MoE layer. The publishers differ only in
// whether the embedding (a row lookup, no arithmetic) counts as "active": each family says so
// in M::active_counts_embedding, and param_count<M>().active follows it.

// OpenAI (gpt-oss model card: 116.83B / 5.13B and 20.91B / 3.61B): the total counts every
// tensor; the active count leaves out the embedding but keeps the unembedding. Counted here:
// 116.83B / 5.13B and 20.91B / 3.61B. Keeping the embedding would give 5.71B / 4.19B (+12%).
static_assert(within_two_percent(param_count<GptOss120B>().total, 116.8e9),
              "templlm: GptOss120B total parameters differ from the published 116.8B");
static_assert(within_two_percent(param_count<GptOss120B>().active, 5.1e9),
              "templlm: GptOss120B active parameters (less embedding) differ from 5.1B");
static_assert(within_two_percent(param_count<GptOss20B>().total, 20.9e9),
              "templlm: GptOss20B total parameters differ from the published 20.9B");
static_assert(within_two_percent(param_count<GptOss20B>().active, 3.6e9),
              "templlm: GptOss20B active parameters (less embedding) differ from 3.6B");

// DeepSeek (V3 report: 671B total, 37B activated): 671B is the main model, without the 14B
// multi-token-prediction module (layer 61, not in dims.layers). Counted here: 671.03B total.
// For the active count both conventions land within 2% (36.63B without the embedding, 37.55B
// with it); the one without the embedding is used because it is the only one that fits
// DeepSeek's earlier figures from the same team (V2-Lite, 15.7B / 2.4B: 2.45B without the
// embedding, 2.66B with it, computed from its config.json), matching OpenAI's convention.
static_assert(within_two_percent(param_count<DeepSeekV3>().total, 671e9),
              "templlm: DeepSeekV3 total parameters differ from the published 671B");
static_assert(within_two_percent(param_count<DeepSeekV3>().active, 37e9),
              "templlm: DeepSeekV3 active parameters (less embedding) differ from 37B");

// Qwen (Qwen3 model cards): total and active count everything, embedding and head included
// (the cards list the "non-embedding" count separately: 234B and 29.9B, i.e. less both
// tables). Counted here: 235.09B / 22.19B and 30.53B / 3.35B. Without the embedding the
// 30B-A3B active count would be 3.04B (-8%).
static_assert(within_two_percent(param_count<Qwen3_235B_A22B>().total, 235e9),
              "templlm: Qwen3_235B_A22B total parameters differ from the published 235B");
static_assert(within_two_percent(param_count<Qwen3_235B_A22B>().active, 22e9),
              "templlm: Qwen3_235B_A22B active parameters differ from the published 22B");
static_assert(within_two_percent(param_count<Qwen3_30B_A3B>().total, 30.5e9),
              "templlm: Qwen3_30B_A3B total parameters differ from the published 30.5B");
static_assert(within_two_percent(param_count<Qwen3_30B_A3B>().active, 3.3e9),
              "templlm: Qwen3_30B_A3B active parameters differ from the published 3.3B");

// Meta (Llama 4 model card: Scout 109B / 17B, Maverick 400B / 17B): active counts everything,
// embedding and head included (16.14B without the embedding would be -5%). The totals are of
// the whole multimodal checkpoint, vision tower and projector included (0.87B, counted in total
// and not in active: a text token does not touch it). Counted here: 108.64B / 17.17B and
// 401.58B / 17.18B; the text models alone (Llama4ScoutText) 107.77B and 400.71B.
static_assert(within_two_percent(param_count<Llama4Scout>().total, 109e9),
              "templlm: Llama4Scout total parameters differ from the published 109B");
static_assert(within_two_percent(param_count<Llama4Scout>().active, 17e9),
              "templlm: Llama4Scout active parameters differ from the published 17B");
static_assert(within_two_percent(param_count<Llama4Maverick>().total, 400e9),
              "templlm: Llama4Maverick total parameters differ from the published 400B");
static_assert(within_two_percent(param_count<Llama4Maverick>().active, 17e9),
              "templlm: Llama4Maverick active parameters differ from the published 17B");

// Mistral (Mixtral announcements: 8x22B 141B / 39B, 8x7B 46.7B / 12.9B): everything counted,
// embedding and head included. Counted here: 140.62B / 39.15B and 46.70B / 12.88B.
static_assert(within_two_percent(param_count<Mixtral8x22B>().total, 141e9),
              "templlm: Mixtral8x22B total parameters differ from the published 141B");
static_assert(within_two_percent(param_count<Mixtral8x22B>().active, 39e9),
              "templlm: Mixtral8x22B active parameters differ from the published 39B");
static_assert(within_two_percent(param_count<Mixtral8x7B>().total, 46.7e9),
              "templlm: Mixtral8x7B total parameters differ from the published 46.7B");
static_assert(within_two_percent(param_count<Mixtral8x7B>().active, 12.9e9),
              "templlm: Mixtral8x7B active parameters differ from the published 12.9B");

}  // namespace templlm::model
