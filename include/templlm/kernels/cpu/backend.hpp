// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/backend.hpp
/// The CPU backend: owns a thread pool and the fp32 copies of small weights, and implements the
/// op vocabulary of core/backend.hpp with Eigen and plain loops. It is also the specification
/// the CUDA backend is tested against. Weights in a directly usable dtype are used in place from
/// the memory-mapped checkpoint.
#pragma once
#include <deque>
#include <span>

#include "../../core/aligned_buffer.hpp"
#include "../../core/math.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"
#include "attention.hpp"
#include "decode.hpp"
#include "grouped_router.hpp"
#include "linear.hpp"
#include "mla.hpp"
#include "moe.hpp"
#include "norm.hpp"
#include "rope.hpp"
#include "router.hpp"

namespace templlm::cpu {

class Backend {
 public:
  using space = Host;
  template <class T>
  using Buffer = AlignedBuffer<T>;

  /// threads = 0: one per hardware thread.
  explicit Backend(unsigned threads = 0) : pool_(threads) {}
  unsigned threads() const { return pool_.size(); }
  static constexpr const char* name() { return "cpu"; }

  // --- memory -------------------------------------------------------------------------------
  /// A rows x cols view of `buf`, grown if needed (never shrunk: no allocation once warmed up).
  template <class T>
  MatrixView<T, Host> matrix(Buffer<T>& buf, std::int64_t rows, std::int64_t cols) const {
    buf.resize(static_cast<std::size_t>(rows * cols));
    return {buf.data(), rows, cols};
  }
  /// Weights stay where they are (the mmap); the CPU computes from the stored dtype.
  WeightView<Host> upload(const WeightView<Host>& w) const { return w; }
  /// A small weight (norm, bias, sinks) decoded once to fp32 and kept by the backend.
  const float* upload_f32(const WeightView<Host>& w) {
    auto& buf = owned_.emplace_back(static_cast<std::size_t>(w.numel()));
    decode_rows(buf.data(), w, 0, w.rank == 1 ? 1 : w.shape[0]);
    return buf.data();
  }
  /// Host values into a backend buffer (token ids, positions).
  template <class T>
  void copy_from_host(Buffer<T>& dst, std::span<const T> src) const {
    dst.resize(src.size());
    std::copy(src.begin(), src.end(), dst.data());
  }
  template <class T>
  void copy_to_host(std::span<T> dst, MatrixView<const T, Host> src) const {
    check(std::int64_t(dst.size()) >= src.rows * src.cols, "templlm: copy_to_host: too small");
    for (std::int64_t r = 0; r < src.rows; ++r)
      std::copy_n(src.row(r), src.cols, dst.data() + r * src.cols);
  }
  void synchronize() const {}

  // --- ops (destination first) --------------------------------------------------------------
  void embed(MatrixView<float> out, const WeightView<Host>& table, std::span<const int> ids) {
    check(std::int64_t(ids.size()) == out.rows && table.shape[1] == out.cols,
          "templlm: embed: shapes disagree");
    for (std::int64_t t = 0; t < out.rows; ++t) decode_rows(out.row(t), table, ids[t], 1);
  }
  void linear(MatrixView<float> y, MatrixView<const float> x, const WeightView<Host>& w,
              const WeightView<Host>& bias = {}) {
    cpu::linear(pool_, y, x, w, bias);
  }
  void rms_norm(MatrixView<float> y, MatrixView<const float> x, const float* w, float eps) {
    cpu::rms_norm(y, x, w, eps);
  }
  void rope(MatrixView<float> x, int heads, int head_dim, std::span<const int> positions,
            const RopeTable& table) {
    cpu::rope(x, heads, head_dim, positions, table.inv_freq, table.attention_factor, table.layout);
  }
  /// Llama 4 temperature tuning on NoPE layers: q *= log1p(floor((p + 1) / floor_scale)) * s + 1.
  void scale_rows_by_position(MatrixView<float> x, std::span<const int> positions, float floor_scale,
                              float attn_scale) {
    for (std::int64_t t = 0; t < x.rows; ++t) {
      const float f = math::attention_temperature(positions[t], floor_scale, attn_scale);
      for (std::int64_t c = 0; c < x.cols; ++c) x.row(t)[c] *= f;
    }
  }
  void attention(MatrixView<float> out, MatrixView<const float> q, MatrixView<const float> k_new,
                 MatrixView<const float> v_new, const KvLayerView& cache, const AttentionArgs& a) {
    cpu::attention(pool_, out, q, k_new, v_new, cache, a);
  }
  void kv_store(const KvLayerView& cache, MatrixView<const float> k_new,
                MatrixView<const float> v_new, std::int64_t start) {
    cpu::kv_store(cache, k_new, v_new, start);
  }
  void route_topk(MatrixView<int> ids, MatrixView<float> weights, MatrixView<const float> logits,
                  const cfg::TopK& r) {
    cpu::route_topk(ids, weights, logits, r);
  }
  void moe_experts(MatrixView<float> out, MatrixView<const float> x, MatrixView<const int> ids,
                   MatrixView<const float> weights, std::span<const ExpertWeights> experts,
                   const cfg::SwiGlu& f, bool input_scale) {
    cpu::moe_experts(pool_, out, x, ids, weights, experts, f, input_scale, moe_scratch_);
  }
  void gated_ffn(MatrixView<float> out, MatrixView<const float> x, const ExpertWeights& w,
                 const cfg::SwiGlu& f) {
    cpu::gated_ffn(pool_, out, x, w, f, ffn_scratch_);
  }
  // DeepSeek-V3 (kernels/cpu/mla.hpp, grouped_router.hpp).
  void rope_part(MatrixView<float> x, int heads, int head_stride, int offset,
                 std::span<const int> positions, const RopeTable& table) {
    cpu::rope_part(x, heads, head_stride, offset, positions, table.inv_freq, table.attention_factor,
                   table.layout);
  }
  void mla_attention(MatrixView<float> out, MatrixView<const float> q, MatrixView<const float> latent_new,
                     const KvLayerView& cache, const WeightView<Host>& kv_b, const MlaArgs& a) {
    cpu::mla_attention(pool_, out, q, latent_new, cache, kv_b, a);
  }
  void mla_store(const KvLayerView& cache, MatrixView<const float> latent_new, std::int64_t start) {
    cpu::mla_store(cache, latent_new, start);
  }
  void route_grouped_topk(MatrixView<int> ids, MatrixView<float> weights, MatrixView<const float> logits,
                          const float* bias, const cfg::GroupedTopK& r) {
    cpu::route_grouped_topk(ids, weights, logits, bias, r);
  }
  /// dst row r = src row s (gathering the rows that get logits).
  void copy_row(MatrixView<float> dst, std::int64_t r, MatrixView<const float> src,
                       std::int64_t s) {
    std::copy_n(src.row(s), src.cols, dst.row(r));
  }
  /// y += x
  void add(MatrixView<float> y, MatrixView<const float> x) {
    for (std::int64_t r = 0; r < y.rows; ++r)
      for (std::int64_t c = 0; c < y.cols; ++c) y.row(r)[c] += x.row(r)[c];
  }

 private:
  ThreadPool pool_;
  std::deque<AlignedBuffer<float>> owned_;  // deque: pointers stay valid as it grows
  MoeScratch moe_scratch_;
  AlignedBuffer<float> ffn_scratch_;
};

}  // namespace templlm::cpu
