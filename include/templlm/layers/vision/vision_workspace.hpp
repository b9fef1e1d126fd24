// SPDX-License-Identifier: Apache-2.0
/// \file layers/vision/vision_workspace.hpp
/// Scratch of one image encoding, sized per call (buffers only grow). Per-caller state: one
/// thread at a time, like layers/workspace.hpp.
#pragma once
#include <vector>

namespace templlm::layers {

template <class B>
struct VisionWorkspace {
  template <class T>
  using Buf = typename B::template Buffer<T>;
  std::vector<float> host_patches;          // the unfolded tiles, on the host
  Buf<float> patches, x, normed, q, k, v, attn, mixed, inner;
  Buf<float> shuffled, adapter_inner, adapter_out, features;
  Buf<int> shuffle_rows;
  std::vector<int> host_shuffle_rows;
};

}  // namespace templlm::layers
