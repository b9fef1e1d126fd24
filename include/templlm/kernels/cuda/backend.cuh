// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/backend.cuh
/// The CUDA backend: the contract of core/backend.hpp (the same member functions and meaning as
/// kernels/cpu/backend.hpp) on one CUDA stream of one device. It owns the uploaded weights, a cuBLAS handle and
/// the scratch that host-side arguments (token ids, positions, RoPE frequencies) are copied into;
/// all scratch only grows. Every op is asynchronous on the stream except copy_to_host and
/// synchronize; host memory passed in may be reused as soon as a call returns.
///
///   templlm::gpu::Backend be;                          // device 0
///   runtime::Model<model::Qwen3MoeTiny, gpu::Backend> m(be, io::WeightStore::open(dir));
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../../core/backend.hpp"
#include "../../core/config.hpp"
#include "../../core/kv.hpp"
#include "../../core/mla_args.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "attention.cuh"
#include "check.cuh"
#include "chunk_view.cuh"
#include "device_buffer.cuh"
#include "elementwise.cuh"
#include "grouped_router.cuh"
#include "linear.cuh"
#include "mla.cuh"
#include "moe.cuh"
#include "norm.cuh"
#include "rope.cuh"
#include "router.cuh"
#include "sampling.cuh"
#include "upload.cuh"
#include "vision.cuh"

namespace templlm::gpu {

class Backend {
 public:
  using space = Device;
  template <class T>
  using Buffer = DeviceBuffer<T>;
  using ExpertWeights = templlm::ExpertWeights<Device>;

  /// Throws CudaError when there is no such device. `precision` picks the arithmetic of linear
  /// above 8 rows (gemm_lt.cuh): fp32 (default, exact: what the tests compare) or bf16.
  explicit Backend(int device = 0, Precision precision = Precision::fp32)
      : device_(device), precision_(precision) {
    cuda_check(cudaSetDevice(device), "cudaSetDevice");
    gemv_.target_blocks = gemv_target_blocks(device);
    // A blocking stream: it stays ordered with the legacy default stream, which DeviceBuffer's
    // synchronous cudaMemset and the weight uploads use.
    cuda_check(cudaStreamCreate(&stream_), "cudaStreamCreate");
    try {
      cublas_check(cublasCreate(&blas_), "cublasCreate");
      cublas_check(cublasSetStream(blas_, stream_), "cublasSetStream");
      cublas_check(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");  // no TF32
    } catch (...) {
      if (blas_) cublasDestroy(blas_);
      cudaStreamDestroy(stream_);
      throw;
    }
  }
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  ~Backend() {
    (void)cudaStreamSynchronize(stream_);
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  static constexpr const char* name() { return "cuda"; }
  /// A backend for another caller (core/backend.hpp ContextBackend): the same device and
  /// precision, its own stream, cuBLAS handle and scratch; it computes on this one's uploads,
  /// which must outlive it.
  std::unique_ptr<Backend> new_context() const { return std::make_unique<Backend>(device_, precision_); }
  int device() const { return device_; }
  Precision precision() const { return precision_; }
  cudaStream_t stream() const { return stream_; }

  // --- memory -------------------------------------------------------------------------------
  /// A rows x cols view of `buf`, grown if needed (never shrunk: no allocation once warmed up).
  template <class T>
  MatrixView<T, Device> matrix(Buffer<T>& buf, std::int64_t rows, std::int64_t cols) const {
    buf.resize(static_cast<std::size_t>(rows * cols));
    return {buf.data(), rows, cols};
  }
  /// Copies a weight to the device once, in its stored form: bf16 stays bf16, FP8 blocks and
  /// MXFP4 stay compressed with their scales. Of a row selection only the rows it spans are
  /// copied; unquantised transposed or strided views are compacted to [out, in] rows on the way.
  WeightView<Device> upload(const WeightView<Host>& w) { return gpu::upload(w, weights_); }
  /// A small weight (norm, bias, sinks) decoded once to fp32, in device memory.
  VectorView<const float, Device> upload_f32(const WeightView<Host>& w) {
    if (w.empty()) return {};
    std::deque<DeviceBuffer<std::byte>> stored_bytes;  // the stored copy, freed once decoded
    const WeightView<Device> stored = gpu::upload(w, stored_bytes);
    const std::int64_t cols = w.cols(), rows = cols == 0 ? 0 : w.numel() / cols;
    auto& buf = vectors_.emplace_back(static_cast<std::size_t>(rows * cols));
    gpu::decode_rows(stream_, buf.data(), stored, 0, rows);
    synchronize();
    return {buf.data(), rows * cols};
  }
  /// Values computed at load (deinterleaved biases) copied to the device, as an fp32 weight.
  WeightView<Device> own(std::span<const float> values) {
    auto& buf = vectors_.emplace_back(values.size());
    if (!values.empty())
      cuda_check(cudaMemcpy(buf.data(), values.data(), values.size_bytes(), cudaMemcpyHostToDevice),
                 "cudaMemcpy (own)");
    WeightView<Device> w;
    w.dtype = DType::f32;
    w.rank = 1;
    w.shape[0] = std::int64_t(values.size());
    w.data = reinterpret_cast<const std::byte*>(buf.data());
    return w;
  }
  /// The RoPE frequencies on the device, once for the model's lifetime.
  RopeView<Device> prepare_rope(const RopeTable& t) {
    const WeightView<Device> w = own(t.inv_freq);
    return {reinterpret_cast<const float*>(w.data), int(t.inv_freq.size()), t.attention_factor, t.layout};
  }
  /// One layer's routed experts: validated and their device table built once, at load.
  struct Experts {
    DeviceBuffer<ExpertDeviceWeights> device;
    ExpertTable table;
  };
  Experts prepare_experts(std::vector<ExpertWeights> experts, std::int64_t hidden, const cfg::SwiGlu& f) {
    Experts out;
    out.table = expert_table(experts, hidden, f, out.device);
    return out;
  }
  /// Grows buf to n elements keeping its contents (the KV pool's storage).
  template <class T>
  void grow(Buffer<T>& buf, std::size_t n) {
    if (n <= buf.size()) return;
    Buffer<T> bigger(n);
    if (buf.size() > 0)
      cuda_check(cudaMemcpyAsync(bigger.data(), buf.data(), buf.size() * sizeof(T), cudaMemcpyDeviceToDevice, stream_),
                 "cudaMemcpyAsync (grow)");
    synchronize();  // the old block is freed below
    buf = std::move(bigger);
  }
  /// dst = src, element for element (same shape; copy on write of a KV page).
  template <class T>
  void copy(MatrixView<T, Device> dst, MatrixView<const T, Device> src) {
    check(dst.rows == src.rows && dst.cols == src.cols, "templlm: copy: shapes disagree");
    if (src.rows > 0 && src.cols > 0)
      cuda_check(cudaMemcpy2DAsync(dst.data, dst.stride * sizeof(T), src.data, src.stride * sizeof(T),
                                   src.cols * sizeof(T), src.rows, cudaMemcpyDeviceToDevice, stream_),
                 "cudaMemcpy2DAsync (copy)");
  }
  /// Host values into a backend buffer (token ids, positions).
  template <class T>
  void copy_from_host(Buffer<T>& dst, std::span<const T> src) {
    dst.resize(src.size());
    if (!src.empty())
      cuda_check(cudaMemcpyAsync(dst.data(), src.data(), src.size_bytes(), cudaMemcpyHostToDevice, stream_),
                 "cudaMemcpyAsync (copy_from_host)");
  }
  /// Device rows into host memory; waits for the stream.
  template <class T>
  void copy_to_host(std::span<T> dst, MatrixView<const T, Device> src) {
    check(std::int64_t(dst.size()) >= src.rows * src.cols, "templlm: copy_to_host: too small");
    if (src.rows > 0 && src.cols > 0)
      cuda_check(cudaMemcpy2DAsync(dst.data(), src.cols * sizeof(T), src.data, src.stride * sizeof(T),
                                   src.cols * sizeof(T), src.rows, cudaMemcpyDeviceToHost, stream_),
                 "cudaMemcpy2DAsync (copy_to_host)");
    synchronize();
  }
  void synchronize() { cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  // --- ops (destination first) --------------------------------------------------------------
  void embed(MatrixView<float, Device> out, const WeightView<Device>& table, std::span<const int> ids) {
    check(std::int64_t(ids.size()) == out.rows, "templlm: embed: shapes disagree");
    copy_from_host(ids_, ids);
    gpu::embed(stream_, out, table, ids_.data());
  }
  void linear(MatrixView<float, Device> y, MatrixView<const float, Device> x, const WeightView<Device>& w,
              const WeightView<Device>& bias = {}) {
    gpu::linear({.blas = blas_, .scratch = &decode_scratch_, .precision = precision_, .lt = &lt_, .gemv = &gemv_},
                stream_, y, x, w, bias);
  }
  /// w empty: weightless (Llama 4's L2 q/k norm).
  void rms_norm(MatrixView<float, Device> y, MatrixView<const float, Device> x, VectorView<const float, Device> w,
                float eps) {
    check(w.empty() || w.size == x.cols, "templlm: rms_norm: weight length disagrees");
    gpu::rms_norm(stream_, y, x, w.data, eps);
  }
  void rope(MatrixView<float, Device> x, int heads, int head_dim, const Positions<Device>& positions,
            const RopeView<Device>& table) {
    check(positions.size() == x.rows, "templlm: rope: shapes disagree");
    gpu::rope(stream_, x, heads, head_dim, positions.data, table.inv_freq, table.half, table.attention_factor,
              table.layout);
  }
  /// Llama 4 temperature tuning on NoPE layers: q *= log1p(floor((p + 1) / floor_scale)) * s + 1.
  void scale_rows_by_position(MatrixView<float, Device> x, const Positions<Device>& positions,
                              float floor_scale, float attn_scale) {
    check(positions.size() == x.rows, "templlm: scale_rows_by_position: shapes disagree");
    gpu::scale_rows_by_position(stream_, x, positions.data, floor_scale, attn_scale);
  }
  /// The whole step in one launch per path (attention.cuh): decode chunks and prefill chunks,
  /// each reading its pages through the step's page tables; fp32 or bf16 cache elements.
  template <KvElement T>
  void attention(MatrixView<float, Device> out, MatrixView<const float, Device> q,
                 MatrixView<const float, Device> k_new, MatrixView<const float, Device> v_new,
                 const KvPages<T, Device>& cache, const KvBatch& batch, const AttentionArgs& a) {
    gpu::attention(stream_, attention_scratch_, out, q, k_new, v_new, cache, batch, a);
  }
  template <KvElement T>
  void kv_store(const KvPages<T, Device>& cache, const KvBatch& batch, MatrixView<const float, Device> k_new,
                MatrixView<const float, Device> v_new) {
    gpu::kv_store(stream_, cache, batch, k_new, v_new);
  }
  void route_topk(MatrixView<int, Device> ids, MatrixView<float, Device> weights,
                  MatrixView<const float, Device> logits, const cfg::TopK& r) {
    gpu::route_topk(stream_, ids, weights, logits, r);
  }
  void moe_experts(MatrixView<float, Device> out, MatrixView<const float, Device> x, const Routing<Device>& routing,
                   const Experts& experts, const cfg::SwiGlu& f, bool input_scale) {
    check(experts.table.hidden == x.cols && experts.table.intermediate == f.intermediate,
          "templlm: moe_experts: the experts were prepared for other shapes");
    gpu::moe_experts(stream_, moe_, out, x, routing.ids, routing.weights, experts.table, f, input_scale);
  }
  /// out = down(act(gate(x), up(x))).
  void gated_ffn(MatrixView<float, Device> out, MatrixView<const float, Device> x, const ExpertWeights& w,
                 const cfg::SwiGlu& f) {
    const std::int64_t t = x.rows, inter = f.intermediate;
    ffn_scratch_.resize(static_cast<std::size_t>(2 * t * inter));
    MatrixView<float, Device> gate(ffn_scratch_.data(), t, inter);                   // (T,I)
    MatrixView<float, Device> up(ffn_scratch_.data() + t * inter, t, inter);         // (T,I)
    linear(gate, x, w.gate, w.gate_bias);
    linear(up, x, w.up, w.up_bias);
    gpu::gated_activation(stream_, gate, up, f);
    linear(out, gate, w.down, w.down_bias);
  }
  // DeepSeek-V3 (mla.cuh, grouped_router.cuh, rope.cuh).
  void rope_part(MatrixView<float, Device> x, int heads, int head_stride, int offset,
                 const Positions<Device>& positions, const RopeView<Device>& table) {
    check(positions.size() == x.rows, "templlm: rope_part: shapes disagree");
    gpu::rope_part(stream_, x, heads, head_stride, offset, positions.data, table.inv_freq, table.half,
                   table.attention_factor, table.layout);
  }
  /// Single-token chunks take the absorbed form when the layer asks for it (as on the CPU).
  template <KvElement T>
  void mla_attention(MatrixView<float, Device> out, MatrixView<const float, Device> q,
                     MatrixView<const float, Device> latent_new, const KvPages<T, Device>& cache,
                     const KvBatch& batch, const WeightView<Device>& kv_b, const MlaArgs& a) {
    gpu::mla_attention_batch(blas_, stream_, mla_, out, q, latent_new, cache, batch, kv_b, a, a.absorb_decode ? 1 : 0);
  }
  /// bias: [E] from upload_f32, or empty.
  void route_grouped_topk(MatrixView<int, Device> ids, MatrixView<float, Device> weights,
                          MatrixView<const float, Device> logits, VectorView<const float, Device> bias,
                          const cfg::GroupedTopK& r) {
    gpu::route_grouped_topk(stream_, ids, weights, logits, bias.data, r);
  }
  /// dst row r = src row s (gathering the rows that get logits).
  void copy_row(MatrixView<float, Device> dst, std::int64_t r, MatrixView<const float, Device> src,
                std::int64_t s) {
    check(dst.cols == src.cols && r < dst.rows && s < src.rows, "templlm: copy_row: out of range");
    cuda_check(cudaMemcpyAsync(dst.data + r * dst.stride, src.data + s * src.stride,
                               src.cols * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
               "cudaMemcpyAsync (copy_row)");
  }
  /// y += x
  void add(MatrixView<float, Device> y, MatrixView<const float, Device> x) { gpu::add(stream_, y, x); }

  // Vision (core/vision_backend.hpp, vision.cuh).
  void layer_norm(MatrixView<float, Device> y, MatrixView<const float, Device> x, VectorView<const float, Device> w,
                  VectorView<const float, Device> b, float eps) {
    check(w.size == x.cols && b.size == x.cols, "templlm: layer_norm: weight or bias length disagrees");
    gpu::layer_norm(stream_, y, x, w.data, b.data, eps);
  }
  void gelu(MatrixView<float, Device> y) { gpu::gelu(stream_, y); }
  void add_periodic_rows(MatrixView<float, Device> y, MatrixView<const float, Device> table) {
    gpu::add_periodic_rows(stream_, y, table);
  }
  void rotate_pairs(MatrixView<float, Device> x, int heads, int head_dim, MatrixView<const float, Device> table) {
    gpu::rotate_pairs(stream_, x, heads, head_dim, table);
  }
  void tile_attention(MatrixView<float, Device> out, MatrixView<const float, Device> q,
                      MatrixView<const float, Device> k, MatrixView<const float, Device> v, const TileAttentionArgs& a) {
    gpu::tile_attention(stream_, out, q, k, v, a);
  }
  /// Waits: an out-of-range row index is an error here, as on the CPU (once per image encoding).
  void gather_rows(MatrixView<float, Device> y, MatrixView<const float, Device> x, MatrixView<const int, Device> rows) {
    gather_bad_.resize(1);
    static constexpr int zero = 0;
    cuda_check(cudaMemcpyAsync(gather_bad_.data(), &zero, sizeof(int), cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync (gather_rows flag)");
    gpu::gather_rows(stream_, y, x, rows, gather_bad_.data());
    int bad = 0;
    cuda_check(cudaMemcpyAsync(&bad, gather_bad_.data(), sizeof(int), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync (gather_rows)");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (gather_rows)");
    check(bad == 0, "templlm: gather_rows: a row index is out of range");
  }

  /// ids[r] = the token runtime::Sampler would pick from logits row r for rows[r] (greedy arg-max,
  /// or penalties, temperature, top-k, top-p, min-p and the seeded draw; sampling.cuh), so only
  /// the ids come back to the host. runtime::Model uses it when the backend has it. Waits.
  void sample(std::span<int> ids, MatrixView<const float, Device> logits, std::span<const SampleRequest> rows) {
    gpu::sample(stream_, sampling_, ids, logits, rows);
  }

 private:
  /// The device table of an expert list, validated and built once by prepare_experts.
  static ExpertTable expert_table(std::span<const ExpertWeights> experts, std::int64_t hidden, const cfg::SwiGlu& f,
                                  DeviceBuffer<ExpertDeviceWeights>& device) {
    check(!experts.empty(), "templlm: moe_experts: no experts");
    std::vector<ExpertDeviceWeights> table(experts.size());
    const WeightPath path = weight_path(experts[0].gate);
    const bool bias = !experts[0].gate_bias.empty();
    std::optional<GemvFormat> gemv = gemv_format(experts[0].gate);  // decode's path, if all share it
    for (std::size_t e = 0; e < experts.size(); ++e) {
      const auto& x = experts[e];
      for (const auto* w : {&x.gate, &x.up, &x.down})
        if (gemv_format(*w) != gemv) gemv.reset();
      check(weight_path(x.gate) == path && weight_path(x.up) == path && weight_path(x.down) == path,
            "templlm: moe_experts: the CUDA backend needs one storage type for all expert weights");
      check(x.gate.rank == 2 && x.gate.shape[0] == f.intermediate && x.gate.shape[1] == hidden &&
                x.up.rank == 2 && x.up.shape[0] == f.intermediate && x.up.shape[1] == hidden &&
                x.down.rank == 2 && x.down.shape[0] == hidden && x.down.shape[1] == f.intermediate,
            "templlm: moe_experts: expert weight shapes disagree");
      check(x.gate_bias.empty() == !bias && x.up_bias.empty() == !bias && x.down_bias.empty() == !bias,
            "templlm: moe_experts: experts must all have biases, or none");
      for (const auto* w : {&x.gate, &x.up, &x.down}) detail::require_decodable(*w, "experts");
      if (bias)
        for (const auto* w : {&x.gate_bias, &x.up_bias, &x.down_bias}) detail::require_decodable(*w, "expert biases");
      table[e] = {device_weight(x.gate),      device_weight(x.up),      device_weight(x.down),
                  device_weight(x.gate_bias), device_weight(x.up_bias), device_weight(x.down_bias)};
    }
    device.resize(table.size());
    cuda_check(cudaMemcpy(device.data(), table.data(), table.size() * sizeof(ExpertDeviceWeights),
                          cudaMemcpyHostToDevice),
               "cudaMemcpy (expert table)");
    return {device.data(), static_cast<int>(experts.size()), path, hidden, f.intermediate, gemv};
  }

  int device_;
  Precision precision_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::deque<DeviceBuffer<std::byte>> weights_;  // deque: views stay valid as it grows
  std::deque<DeviceBuffer<float>> vectors_;
  DeviceBuffer<int> ids_;
  DeviceBuffer<float> decode_scratch_, ffn_scratch_;
  DeviceBuffer<float> attention_scratch_;  // split-KV decode partials (attention.cuh)
  DeviceBuffer<int> gather_bad_;           // gather_rows' out-of-range flag
  MoeWorkspace moe_;
  MlaWorkspace mla_;
  SamplingWorkspace sampling_;
  LtWorkspace lt_;  // cuBLASLt, set up on first use (Precision::bf16 only)
  GemvWorkspace gemv_;  // split-K partials of the decode GEMV (gemv.cuh)
};

}  // namespace templlm::gpu

static_assert(templlm::Backend<templlm::gpu::Backend>,
              "templlm: the CUDA backend must satisfy the contract of core/backend.hpp");
static_assert(templlm::VisionBackend<templlm::gpu::Backend>,
              "templlm: the CUDA backend has the vision ops of core/vision_backend.hpp");
static_assert(templlm::BackendCache<templlm::gpu::Backend, templlm::Bf16>,
              "templlm: the CUDA backend has the bf16 KV cache");
static_assert(templlm::ContextBackend<templlm::gpu::Backend>,
              "templlm: the CUDA backend makes contexts for other threads (new_context)");
