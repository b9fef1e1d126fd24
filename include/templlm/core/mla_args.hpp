// SPDX-License-Identifier: Apache-2.0
/// \file core/mla_args.hpp
/// Arguments of the backends' mla_attention op (multi-head latent attention over a latent cache,
/// kernels/cpu/mla.hpp is the reference implementation).
#pragma once
#include <cstdint>

namespace templlm {

struct MlaArgs {
  int heads, nope, rope, v, rank;
  float scale;         // applied to the full q.k after the product, as HF does
  bool absorb_decode;  // single-token chunks use the absorbed form (kv_b folded into q and out)
};

}  // namespace templlm
