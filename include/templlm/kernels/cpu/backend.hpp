// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/backend.hpp
/// The CPU backend: owns a thread pool and the fp32 copies of small weights, and implements the
/// contract of core/backend.hpp with Eigen and plain loops. It is also the specification the
/// CUDA backend is tested against. Weights in a directly usable dtype are used in place from the
/// memory-mapped checkpoint.
///
/// Thread safety: what prepare/upload return is read-only and may be shared; the ops use the
/// backend's scratch and thread pool, so one thread calls a Backend object at a time (another
/// thread uses a new_context() of it).
#pragma once
#include <deque>
#include <memory>
#include <span>

#include "../../core/aligned_buffer.hpp"
#include "../../core/backend.hpp"
#include "../../core/kv.hpp"
#include "../../core/math.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"
#include "attention.hpp"
#include "decode.hpp"
#include "grouped_router.hpp"
#include "isa.hpp"
#include "linear.hpp"
#include "mla.hpp"
#include "moe.hpp"
#include "norm.hpp"
#include "rope.hpp"
#include "router.hpp"
#include "vision.hpp"

namespace templlm::cpu {

class Backend {
 public:
  using space = Host;
  template <class T>
  using Buffer = AlignedBuffer<T>;

  /// threads = 0: one per hardware thread.
  /// Throws Unsupported when this CPU lacks an instruction set the build uses (isa.hpp).
  explicit Backend(unsigned threads = 0) : pool_(threads) { check_cpu_supports_build(); }
  unsigned threads() const { return pool_.size(); }
  /// A backend for another caller (core/backend.hpp ContextBackend): as many threads, its own
  /// pool and scratch; it computes on this one's uploads, which must outlive it.
  std::unique_ptr<Backend> new_context() const { return std::make_unique<Backend>(threads()); }
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
  VectorView<const float, Host> upload_f32(const WeightView<Host>& w) {
    if (w.empty()) return {};
    auto& buf = owned_.emplace_back(static_cast<std::size_t>(w.numel()));
    decode_rows(buf.data(), w, 0, w.rank == 1 ? 1 : w.shape[0]);
    return {buf.data(), w.numel()};
  }
  /// Values computed at load (deinterleaved biases) kept by the backend, as an fp32 weight.
  WeightView<Host> own(std::span<const float> values) {
    auto& buf = owned_.emplace_back(values.size());
    std::copy(values.begin(), values.end(), buf.data());
    WeightView<Host> w;
    w.dtype = DType::f32;
    w.rank = 1;
    w.shape[0] = std::int64_t(values.size());
    w.data = reinterpret_cast<const std::byte*>(buf.data());
    return w;
  }
  /// The RoPE frequencies, kept by the backend for the model's lifetime.
  RopeView<Host> prepare_rope(const RopeTable& t) {
    auto view = own(t.inv_freq);
    return {reinterpret_cast<const float*>(view.data), int(t.inv_freq.size()), t.attention_factor, t.layout};
  }
  /// One layer's routed experts, validated once at load.
  struct Experts {
    std::vector<ExpertWeights> list;
  };
  Experts prepare_experts(std::vector<ExpertWeights> experts, std::int64_t hidden, const cfg::SwiGlu& f) {
    check(!experts.empty(), "templlm: prepare_experts: no experts");
    for (const auto& x : experts)
      check(x.gate.shape[0] == f.intermediate && x.gate.cols() == hidden && x.up.shape[0] == f.intermediate &&
                x.up.cols() == hidden && x.down.shape[0] == hidden && x.down.cols() == f.intermediate,
            "templlm: prepare_experts: expert weight shapes disagree");
    return {std::move(experts)};
  }
  /// Grows buf to n elements, keeping its contents (the KV pool's storage).
  template <class T>
  void grow(Buffer<T>& buf, std::size_t n) const {
    if (n <= buf.size()) return;
    Buffer<T> bigger(n);
    if (buf.size() > 0) std::copy_n(buf.data(), buf.size(), bigger.data());
    buf = std::move(bigger);
  }
  /// dst = src, element for element (same shape).
  template <class T>
  void copy(MatrixView<T, Host> dst, MatrixView<const T, Host> src) const {
    check(dst.rows == src.rows && dst.cols == src.cols, "templlm: copy: shapes disagree");
    for (std::int64_t r = 0; r < src.rows; ++r) std::copy_n(src.row(r), src.cols, dst.row(r));
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
  /// w empty: weightless (Llama 4's L2 q/k norm).
  void rms_norm(MatrixView<float> y, MatrixView<const float> x, VectorView<const float, Host> w, float eps) {
    check(w.empty() || w.size == x.cols, "templlm: rms_norm: weight length disagrees");
    cpu::rms_norm(y, x, w.data, eps);
  }
  void rope(MatrixView<float> x, int heads, int head_dim, const Positions<Host>& positions,
            const RopeView<Host>& table) {
    cpu::rope(x, heads, head_dim, positions.host, {table.inv_freq, std::size_t(table.half)},
              table.attention_factor, table.layout);
  }
  /// Llama 4 temperature tuning on NoPE layers: q *= log1p(floor((p + 1) / floor_scale)) * s + 1.
  void scale_rows_by_position(MatrixView<float> x, const Positions<Host>& positions, float floor_scale,
                              float attn_scale) {
    check(positions.size() == x.rows, "templlm: scale_rows_by_position: shapes disagree");
    for (std::int64_t t = 0; t < x.rows; ++t) {
      const float f = math::attention_temperature(positions.host[t], floor_scale, attn_scale);
      for (std::int64_t c = 0; c < x.cols; ++c) x.row(t)[c] *= f;
    }
  }
  template <KvElement T>
  void attention(MatrixView<float> out, MatrixView<const float> q, MatrixView<const float> k_new,
                 MatrixView<const float> v_new, const KvPages<T, Host>& cache, const KvBatch& batch,
                 const AttentionArgs& a) {
    cpu::attention(pool_, out, q, k_new, v_new, cache, batch, a);
  }
  /// Stores the step's keys and values (v_new unused when the cache has no values).
  template <KvElement T>
  void kv_store(const KvPages<T, Host>& cache, const KvBatch& batch, MatrixView<const float> k_new,
                MatrixView<const float> v_new) {
    cpu::kv_store(cache, batch, k_new, v_new);
  }
  void route_topk(MatrixView<int> ids, MatrixView<float> weights, MatrixView<const float> logits,
                  const cfg::TopK& r) {
    cpu::route_topk(ids, weights, logits, r);
  }
  void moe_experts(MatrixView<float> out, MatrixView<const float> x, const Routing<Host>& routing,
                   const Experts& experts, const cfg::SwiGlu& f, bool input_scale) {
    cpu::moe_experts(pool_, out, x, routing.ids, routing.weights, experts.list, f, input_scale, moe_scratch_);
  }
  void gated_ffn(MatrixView<float> out, MatrixView<const float> x, const ExpertWeights& w,
                 const cfg::SwiGlu& f) {
    cpu::gated_ffn(pool_, out, x, w, f, ffn_scratch_);
  }
  // DeepSeek-V3 (kernels/cpu/mla.hpp, grouped_router.hpp).
  void rope_part(MatrixView<float> x, int heads, int head_stride, int offset,
                 const Positions<Host>& positions, const RopeView<Host>& table) {
    cpu::rope_part(x, heads, head_stride, offset, positions.host, {table.inv_freq, std::size_t(table.half)},
                   table.attention_factor, table.layout);
  }
  template <KvElement T>
  void mla_attention(MatrixView<float> out, MatrixView<const float> q, MatrixView<const float> latent_new,
                     const KvPages<T, Host>& cache, const KvBatch& batch, const WeightView<Host>& kv_b,
                     const MlaArgs& a) {
    cpu::mla_attention(pool_, out, q, latent_new, cache, batch, kv_b, a);
  }
  /// bias: [E], or empty.
  void route_grouped_topk(MatrixView<int> ids, MatrixView<float> weights, MatrixView<const float> logits,
                          VectorView<const float, Host> bias, const cfg::GroupedTopK& r) {
    cpu::route_grouped_topk(ids, weights, logits, bias.data, r);
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

  // Vision (core/vision_backend.hpp, kernels/cpu/vision.hpp).
  void layer_norm(MatrixView<float> y, MatrixView<const float> x, VectorView<const float, Host> w,
                  VectorView<const float, Host> b, float eps) {
    check(w.size == x.cols && b.size == x.cols, "templlm: layer_norm: weight or bias length disagrees");
    cpu::layer_norm(y, x, w.data, b.data, eps);
  }
  void gelu(MatrixView<float> y) { cpu::gelu(y); }
  void add_periodic_rows(MatrixView<float> y, MatrixView<const float> table) { cpu::add_periodic_rows(y, table); }
  void rotate_pairs(MatrixView<float> x, int heads, int head_dim, MatrixView<const float> table) {
    cpu::rotate_pairs(x, heads, head_dim, table);
  }
  void tile_attention(MatrixView<float> out, MatrixView<const float> q, MatrixView<const float> k,
                      MatrixView<const float> v, const TileAttentionArgs& a) {
    cpu::tile_attention(pool_, out, q, k, v, a);
  }
  void gather_rows(MatrixView<float> y, MatrixView<const float> x, MatrixView<const int> rows) {
    cpu::gather_rows(y, x, rows);
  }

 private:
  ThreadPool pool_;
  std::deque<AlignedBuffer<float>> owned_;  // deque: pointers stay valid as it grows
  MoeScratch moe_scratch_;
  AlignedBuffer<float> ffn_scratch_;
};

}  // namespace templlm::cpu

static_assert(templlm::Backend<templlm::cpu::Backend>,
              "templlm: the CPU backend must satisfy the contract of core/backend.hpp");
static_assert(templlm::ContextBackend<templlm::cpu::Backend>,
              "templlm: the CPU backend makes contexts for other threads (new_context)");
static_assert(templlm::VisionBackend<templlm::cpu::Backend>,
              "templlm: the CPU backend has the vision ops of core/vision_backend.hpp");
static_assert(templlm::BackendCache<templlm::cpu::Backend, templlm::Bf16>,
              "templlm: the CPU backend has the bf16 KV cache");
