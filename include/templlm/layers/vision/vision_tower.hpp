// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/vision_tower.hpp
/// The image-encoder component, selected by the type of M::vision (cfg::NoVision, or no member:
/// none). This primary template refuses to compile; each vision config type has its
/// specialization in this folder (llama4_vision.hpp for cfg::Llama4Vision), and a user may add
/// one for a type of their own, with has_vision_tower set, outside the library, next to its
/// image side (vision::ImageInput, vision/image_input.hpp). What runtime::Model uses of a
/// specialization (llama4_vision.hpp is the example):
///   VisionTower(B&, const TensorSource&)        loads its tensors (read-only afterwards)
///   MatrixView<float, Space> encode(B&, VisionWorkspace<B>&, std::span<const float> pixels,
///                                   int tiles, VisionStages* = nullptr) const
///     features [tiles * tokens per tile, text hidden] in backend memory
#pragma once
#include <type_traits>

#include "../../core/config.hpp"
#include "../../core/type_list.hpp"

namespace templlm::layers {

template <class Cfg>
inline constexpr bool has_vision_tower = false;

template <class M, class B, class Cfg = std::remove_cvref_t<decltype(M::vision)>>
class VisionTower {
  static_assert(dependent_false<Cfg>,
                "templlm: no VisionTower implementation for the type of M::vision. Add a specialization "
                "under layers/vision/ (and set layers::has_vision_tower for it), or use cfg::NoVision.");
};

/// Whether the description has an image encoder: a `vision` member of a type other than NoVision.
template <class M>
constexpr bool describes_vision() {
  if constexpr (requires { M::vision; })
    return !std::is_same_v<std::remove_cvref_t<decltype(M::vision)>, cfg::NoVision>;
  else
    return false;
}

}  // namespace templlm::layers
