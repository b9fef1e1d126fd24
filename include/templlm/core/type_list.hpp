// SPDX-License-Identifier: Apache-2.0
/// \file core/type_list.hpp
/// A list of types and a fold over it: the one place a runtime value (a checkpoint's
/// architecture) is turned into a compile-time model type, with no switch.
#pragma once

namespace templlm {

template <class... Ts>
struct TypeList {};

/// Calls f.template operator()<T>() for each T in order.
template <class... Ts, class F>
constexpr void for_each_type(TypeList<Ts...>, F&& f) {
  (f.template operator()<Ts>(), ...);
}

template <class... As, class... Bs>
constexpr TypeList<As..., Bs...> concat(TypeList<As...>, TypeList<Bs...>) { return {}; }

template <class>
inline constexpr bool dependent_false = false;

}  // namespace templlm
