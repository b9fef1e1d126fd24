// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/expert_layout.hpp
/// Loading the routed experts of one MoE layer in the layout the release stores them
/// (cfg::ExpertLayout): per-expert [out, in] tensors, GPT-OSS's fused MXFP4 tensors with gate and
/// up interleaved by row, or Llama 4's fused [in, out] tensors with gate and up in halves. Every
/// layout becomes the same per-expert ExpertWeights views into the stored tensors (no copies,
/// no dequantisation); only small bias vectors are decoded.
#pragma once
#include <string>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/host_decode.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor_source.hpp"
#include "../fp8_weight.hpp"

namespace templlm::layers {

/// Loads one gated FFN from "<prefix><gate>.weight" etc. in [out, in] layout.
template <class B>
ExpertWeights<typename B::space> load_gated_ffn(B& be, const TensorSource& src,
                                                const std::string& prefix, std::int64_t hidden,
                                                const cfg::SwiGlu& f, std::string_view gate,
                                                std::string_view up, std::string_view down) {
  const std::int64_t inter = f.intermediate;
  ExpertWeights<typename B::space> w;
  // FP8 blocks when the release stores a "<name>.weight_scale_inv" (DeepSeek-V3).
  w.gate = be.upload(get_linear_weight(src, prefix + std::string(gate) + ".weight", inter, hidden));
  w.up = be.upload(get_linear_weight(src, prefix + std::string(up) + ".weight", inter, hidden));
  w.down = be.upload(get_linear_weight(src, prefix + std::string(down) + ".weight", hidden, inter));
  if (f.bias) {
    w.gate_bias = be.upload(src.get(prefix + std::string(gate) + ".bias", {inter}));
    w.up_bias = be.upload(src.get(prefix + std::string(up) + ".bias", {inter}));
    w.down_bias = be.upload(src.get(prefix + std::string(down) + ".bias", {hidden}));
  }
  return w;
}


/// The experts of one layer; `block` is "model.layers.N.<moe block>.".
template <class M, class B>
std::vector<ExpertWeights<typename B::space>> load_routed_experts(B& be, const TensorSource& src,
                                                                  const std::string& block) {
  using Space = typename B::space;
  constexpr auto names = M::moe_names;
  const std::int64_t e_count = M::router.experts, h = M::dims.hidden, inter = M::expert.intermediate;
  const std::string experts = block + std::string(names.experts) + ".";
  std::vector<ExpertWeights<Space>> out;
  out.reserve(static_cast<std::size_t>(e_count));

  if constexpr (names.layout == cfg::ExpertLayout::per_expert) {
    for (std::int64_t e = 0; e < e_count; ++e)
      out.push_back(load_gated_ffn(be, src, experts + std::to_string(e) + ".", h, M::expert,
                                   names.gate, names.up, names.down));
  } else if constexpr (names.layout == cfg::ExpertLayout::fused_mxfp4_interleaved) {
    // HF integrations/mxfp4.py: blocks [E, out, in/32, 16] u8, scales [E, out, in/32] u8.
    auto mxfp4 = [&](const std::string& base, std::int64_t rows, std::int64_t cols) {
      WeightView<Host> w = src.get(base + "_blocks", {e_count, rows, cols / 32, 16});
      const WeightView<Host> s = src.get(base + "_scales", {e_count, rows, cols / 32});
      const auto expect_u8 = [&](const WeightView<Host>& t, const char* suffix, const char* what) {
        if (t.dtype != DType::u8)
          throw TensorMismatch("templlm: tensor '" + base + suffix + "' is " +
                               std::string(dtype_name(t.dtype)) + ", expected U8 (MXFP4 " + what + ")");
      };
      expect_u8(w, "_blocks", "e2m1 pairs");
      expect_u8(s, "_scales", "e8m0 scales");
      w.quant = Quant::mxfp4;
      w.rank = 2;
      w.shape = {e_count * rows, cols, 0, 0};  // logical, all experts stacked
      w.ld = cols;
      w.scales = s.data;
      w.scale_ld = cols / 32;
      return be.upload(w);
    };
    const auto gate_up = mxfp4(experts + std::string(names.fused_gate_up), 2 * inter, h);
    const auto down = mxfp4(experts + std::string(names.fused_down), h, inter);
    const WeightView<Host> gu_bias = src.get(experts + std::string(names.fused_gate_up) + "_bias",
                                             {e_count, 2 * inter});
    const WeightView<Host> down_bias =
        src.get(experts + std::string(names.fused_down) + "_bias", {e_count, h});
    for (std::int64_t e = 0; e < e_count; ++e) {
      ExpertWeights<Space> w;
      w.gate = gate_up.rows(e * 2 * inter, inter, 2);      // output 2j is gate unit j
      w.up = gate_up.rows(e * 2 * inter + 1, inter, 2);    // output 2j+1 is up unit j
      w.down = down.rows(e * h, h);
      const std::vector<float> row = decode_host_row(gu_bias, e);
      std::vector<float> gate_b(static_cast<std::size_t>(inter)), up_b(gate_b.size());
      for (std::size_t j = 0; j < gate_b.size(); ++j) {
        gate_b[j] = row[2 * j];
        up_b[j] = row[2 * j + 1];
      }
      const std::vector<float> down_b = decode_host_row(down_bias, e);
      w.gate_bias = be.own(gate_b);
      w.up_bias = be.own(up_b);
      w.down_bias = be.own(down_b);
      out.push_back(w);
    }
  } else if constexpr (names.layout == cfg::ExpertLayout::fused_in_out_halves) {
    // HF modeling_llama4.py Llama4TextExperts: gate_up_proj [E, H, 2I], down_proj [E, I, H],
    // used as x @ W (no transpose): logically [out, in] stored transposed.
    const WeightView<Host> gu = src.get(experts + std::string(names.fused_gate_up), {e_count, h, 2 * inter});
    const WeightView<Host> dn = src.get(experts + std::string(names.fused_down), {e_count, inter, h});
    const auto elem = static_cast<std::int64_t>(dtype_size(gu.dtype));
    for (std::int64_t e = 0; e < e_count; ++e) {
      WeightView<Host> g = gu;
      g.rank = 2;
      g.shape = {2 * inter, h, 0, 0};
      g.transposed = true;
      g.ld = 2 * inter;
      g.data = gu.data + e * h * 2 * inter * elem;
      WeightView<Host> d = dn;
      d.rank = 2;
      d.shape = {h, inter, 0, 0};
      d.transposed = true;
      d.ld = h;
      d.data = dn.data + e * inter * h * elem;
      ExpertWeights<Space> w;
      w.gate = be.upload(g.rows(0, inter));
      w.up = be.upload(g.rows(inter, inter));
      w.down = be.upload(d);
      out.push_back(w);
    }
  }
  return out;
}

}  // namespace templlm::layers
