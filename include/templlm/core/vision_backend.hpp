// SPDX-License-Identifier: Apache-2.0
/// \file core/vision_backend.hpp
/// The ops an image encoder needs beyond core/backend.hpp's, as a concept of their own: a backend
/// that has them runs the vision components of layers/vision/; one that does not still runs
/// every text model (a model whose description has a vision tower then refuses images with a
/// sentence, runtime/model.hpp). The CPU backend (kernels/cpu/vision.hpp) is the specification.
///
/// Conventions as in core/backend.hpp: destination first, fp32 row-major activations, tables
/// made once at load with Backend::own (fp32, backend memory) and read-only afterwards.
#pragma once
#include <cstdint>

#include "backend.hpp"
#include "tensor.hpp"

namespace templlm {

/// Attention of every row with every row of its own tile: the rows are tiles of `tile_rows`
/// consecutive rows, no mask inside a tile, nothing across tiles (a ViT over image tiles).
struct TileAttentionArgs {
  int heads, head_dim;
  std::int64_t tile_rows;
  float scale;  // applied to q.k after the product, as HF does
};

template <class B>
concept VisionBackend =
    Backend<B> && requires(B& be, MatrixView<float, typename B::space> y, MatrixView<const float, typename B::space> x,
                           VectorView<const float, typename B::space> vec, MatrixView<const int, typename B::space> rows,
                           const TileAttentionArgs& a) {
      be.layer_norm(y, x, vec, vec, float{});  // weight, bias, eps; y may alias x
      be.gelu(y);                              // in place
      be.add_periodic_rows(y, x);              // y row r += x row (r % x.rows)
      be.rotate_pairs(y, int{}, int{}, x);     // heads, head_dim; x: [period, head_dim] (cos, sin) per pair
      be.tile_attention(y, x, x, x, a);        // out, q, k, v
      be.gather_rows(y, x, rows);              // y row r = x row rows[r]; rows: [y.rows, 1]
    };

}  // namespace templlm
