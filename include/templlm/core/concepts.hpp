// SPDX-License-Identifier: Apache-2.0
/// \file core/concepts.hpp
/// The contract a model description satisfies. The layers read nothing else from it.
#pragma once
#include <concepts>
#include <span>
#include <string_view>

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
};

}  // namespace templlm
