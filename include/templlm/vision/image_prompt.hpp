// SPDX-License-Identifier: Apache-2.0
/// \file vision/image_prompt.hpp
/// A prompt with images, as a model runs it: the token ids with each image's placeholder
/// expanded into the image's token run, and the rows of those ids whose input is the image's
/// features instead of their token's embedding (runtime::AnyModel::image_prompt makes it).
#pragma once
#include <cstdint>
#include <vector>

namespace templlm::vision {

struct ImagePrompt {
  std::vector<int> ids;
  std::vector<std::int64_t> rows;   // positions in ids that take a feature row, ascending
  std::vector<float> embeddings;    // [rows.size(), hidden]
  std::int64_t hidden = 0;
  int images = 0;
  std::int64_t tiles = 0;           // image tiles encoded (all images)
};

}  // namespace templlm::vision
