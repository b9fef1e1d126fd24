// SPDX-License-Identifier: Apache-2.0
/// \file vision/image_input.hpp
/// The image side of a vision component, selected by the type of M::vision as the encoder is
/// (layers/vision/vision_tower.hpp): it turns decoded images into the tiles the encoder reads and
/// lays them out in the prompt. This primary template refuses to compile; llama4_image_input.hpp
/// is the specialization for cfg::Llama4Vision. What runtime::Model uses of one:
///   explicit ImageInput(const Cfg&)
///   void configure(const std::filesystem::path& checkpoint_dir)   the processor's settings
///   static constexpr std::string_view placeholder   what stands for an image in a prompt
///   template <class Encode> ImagePrompt prompt(std::span<const int> ids, std::span<const io::Image>,
///       const tokenizer::Tokenizer&, std::int64_t hidden, Encode&& encode) const
///     where encode(std::span<const float> pixels, int tiles) returns the features (host).
#pragma once
#include "../core/type_list.hpp"

namespace templlm::vision {

template <class Cfg>
class ImageInput {
  static_assert(dependent_false<Cfg>,
                "templlm: no vision::ImageInput for the type of M::vision: specialize it next to its "
                "layers::VisionTower (vision/image_input.hpp says what it provides)");
};

}  // namespace templlm::vision
