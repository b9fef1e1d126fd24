// SPDX-License-Identifier: Apache-2.0
/// \file core/concepts.hpp
/// The contract a model description satisfies. The layers read nothing else from it.
/// ModelDescription is the concept (for overloads and static_assert); check_description<M>()
/// says which member is wrong in a sentence, and Transformer, runtime::Model and load_model
/// call it first, so a description with a `norm` that is a double or no `layer(i)` fails to
/// compile naming the member rather than with a concept's diagnostic.
#pragma once
#include <concepts>
#include <span>
#include <string_view>
#include <type_traits>

#include "config.hpp"

namespace templlm {

template <class M>
concept ModelDescription = requires {
  { M::name } -> std::convertible_to<std::string_view>;
  { M::hf_architecture } -> std::convertible_to<std::string_view>;
  { M::dims } -> std::convertible_to<cfg::Dims>;
  { M::norm } -> std::convertible_to<cfg::RmsNorm>;
  M::rope;
  M::attention;
  M::router;
  M::expert;
  M::shared;
  M::dense_ffn;
  { M::tied_embeddings } -> std::convertible_to<bool>;
  { M::active_counts_embedding } -> std::convertible_to<bool>;
  { M::layer(0) } -> std::same_as<cfg::LayerPlan>;
  { M::moe_names } -> std::convertible_to<cfg::MoeNames>;
  { M::prefix } -> std::convertible_to<cfg::TensorPrefix>;
  { std::span<const cfg::HfField>(M::hf_fields()) };
  requires std::is_class_v<std::remove_cvref_t<decltype(M::rope)>>;
  requires std::is_class_v<std::remove_cvref_t<decltype(M::attention)>>;
  requires std::is_class_v<std::remove_cvref_t<decltype(M::router)>>;
  requires std::is_class_v<std::remove_cvref_t<decltype(M::expert)>>;
  requires std::is_class_v<std::remove_cvref_t<decltype(M::shared)>>;
  requires std::is_class_v<std::remove_cvref_t<decltype(M::dense_ffn)>>;
};

/// One static_assert per member of the ModelDescription contract, each with the sentence a
/// user needs; returns true when M is a ModelDescription. Component members (rope, attention,
/// router, expert, shared, dense_ffn) must be config *types* (structs): their type selects the
/// implementation, so a plain number there can only be a mistake.
template <class M>
constexpr bool check_description() {
  static_assert(requires { { M::name } -> std::convertible_to<std::string_view>; },
                "templlm: a model description needs `static constexpr std::string_view name`");
  static_assert(requires { { M::hf_architecture } -> std::convertible_to<std::string_view>; },
                "templlm: a model description needs `static constexpr std::string_view "
                "hf_architecture` (config.json's \"architectures\"[0])");
  static_assert(requires { { M::dims } -> std::convertible_to<cfg::Dims>; },
                "templlm: M::dims must be a cfg::Dims{.hidden, .vocab, .layers}");
  static_assert(requires { { M::norm } -> std::convertible_to<cfg::RmsNorm>; },
                "templlm: M::norm must be a cfg::RmsNorm (e.g. cfg::RmsNorm{.eps = 1e-6f}), the one "
                "norm type the layers implement");
  static_assert(requires { requires std::is_class_v<std::remove_cvref_t<decltype(M::rope)>>; },
                "templlm: M::rope must be a RoPE config type (cfg::Rope, cfg::YarnRope, "
                "cfg::Llama3Rope or your own struct with a rope_table overload)");
  static_assert(requires { requires std::is_class_v<std::remove_cvref_t<decltype(M::attention)>>; },
                "templlm: M::attention must be an attention config type (cfg::Gqa, cfg::Mla or "
                "your own struct), not a number");
  static_assert(requires { requires std::is_class_v<std::remove_cvref_t<decltype(M::router)>>; },
                "templlm: M::router must be a router config type (cfg::TopK, cfg::GroupedTopK, "
                "cfg::NoMoe for a dense model, or your own struct), not a number");
  static_assert(requires { requires std::is_class_v<std::remove_cvref_t<decltype(M::expert)>>; },
                "templlm: M::expert must be an expert FFN config type (cfg::SwiGlu, or cfg::NoMoe "
                "for a dense model), not a number");
  static_assert(requires { requires std::is_class_v<std::remove_cvref_t<decltype(M::shared)>>; },
                "templlm: M::shared must be a shared-expert config type (cfg::SharedExpert, "
                "cfg::NoSharedExpert or your own struct), not a number");
  static_assert(requires { requires std::is_class_v<std::remove_cvref_t<decltype(M::dense_ffn)>>; },
                "templlm: M::dense_ffn must be a dense FFN config type (cfg::SwiGlu, or "
                "cfg::NoDenseFfn for a model without dense layers), not a number");
  static_assert(requires { { M::tied_embeddings } -> std::convertible_to<bool>; },
                "templlm: a model description needs `static constexpr bool tied_embeddings`");
  static_assert(requires { { M::active_counts_embedding } -> std::convertible_to<bool>; },
                "templlm: a model description needs `static constexpr bool active_counts_embedding` "
                "(whether its publisher counts the embedding as active parameters)");
  static_assert(requires { { M::layer(0) } -> std::same_as<cfg::LayerPlan>; },
                "templlm: a model description needs `static constexpr cfg::LayerPlan layer(int i)`");
  static_assert(requires { { M::moe_names } -> std::convertible_to<cfg::MoeNames>; },
                "templlm: M::moe_names must be a cfg::MoeNames (checkpoint name segments)");
  static_assert(requires { { M::prefix } -> std::convertible_to<cfg::TensorPrefix>; },
                "templlm: M::prefix must be a cfg::TensorPrefix");
  static_assert(requires { { std::span<const cfg::HfField>(M::hf_fields()) }; },
                "templlm: a model description needs `static constexpr auto hf_fields()` returning "
                "an array of cfg::HfField (the config.json values it pins)");
  return ModelDescription<M>;
}

}  // namespace templlm
