// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/backend.cuh
/// The CUDA backend: the op vocabulary of kernels/cpu/backend.hpp (same member functions, same
/// meaning) on one CUDA stream of one device. It owns the uploaded weights, a cuBLAS handle and
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
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/numeric.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "attention.cuh"
#include "check.cuh"
#include "device_buffer.cuh"
#include "elementwise.cuh"
#include "linear.cuh"
#include "moe.cuh"
#include "norm.cuh"
#include "rope.cuh"
#include "router.cuh"

namespace templlm::gpu {

class Backend {
 public:
  using space = Device;
  template <class T>
  using Buffer = DeviceBuffer<T>;
  using ExpertWeights = templlm::ExpertWeights<Device>;

  /// Throws CudaError when there is no such device.
  explicit Backend(int device = 0) : device_(device) {
    cuda_check(cudaSetDevice(device), "cudaSetDevice");
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
  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }

  // --- memory -------------------------------------------------------------------------------
  /// A rows x cols view of `buf`, grown if needed (never shrunk: no allocation once warmed up).
  template <class T>
  MatrixView<T, Device> matrix(Buffer<T>& buf, std::int64_t rows, std::int64_t cols) const {
    buf.resize(static_cast<std::size_t>(rows * cols));
    return {buf.data(), rows, cols};
  }
  /// Copies a weight to the device once, in its stored dtype (bf16 stays bf16).
  WeightView<Device> upload(const WeightView<Host>& w) {
    WeightView<Device> d;
    d.dtype = w.dtype;
    d.shape = w.shape;
    d.rank = w.rank;
    if (w.empty()) return d;
    const std::size_t bytes = static_cast<std::size_t>(w.numel()) * dtype_size(w.dtype);
    auto& buf = weights_.emplace_back(bytes);
    cuda_check(cudaMemcpy(buf.data(), w.data, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
    d.data = buf.data();
    return d;
  }
  /// A small weight (norm, bias, sinks) decoded once to fp32 on the host; a device pointer.
  const float* upload_f32(const WeightView<Host>& w) {
    const auto n = static_cast<std::size_t>(w.numel());
    std::vector<float> host(n);
    const auto* half = reinterpret_cast<const std::uint16_t*>(w.data);
    switch (w.dtype) {
      case DType::f32: std::copy_n(reinterpret_cast<const float*>(w.data), n, host.data()); break;
      case DType::bf16: for (std::size_t i = 0; i < n; ++i) host[i] = bf16_to_f32(half[i]); break;
      case DType::f16: for (std::size_t i = 0; i < n; ++i) host[i] = f16_to_f32(half[i]); break;
      default:
        throw Unsupported("templlm: upload_f32: cannot decode " + std::string(dtype_name(w.dtype)));
    }
    auto& buf = vectors_.emplace_back(n);
    cuda_check(cudaMemcpy(buf.data(), host.data(), n * sizeof(float), cudaMemcpyHostToDevice),
               "cudaMemcpy (upload_f32)");
    return buf.data();
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
    gpu::linear(blas_, stream_, decode_scratch_, y, x, w, bias);
  }
  void rms_norm(MatrixView<float, Device> y, MatrixView<const float, Device> x, const float* w, float eps) {
    gpu::rms_norm(stream_, y, x, w, eps);
  }
  void rope(MatrixView<float, Device> x, int heads, int head_dim, std::span<const int> positions,
            const RopeTable& table) {
    check(std::int64_t(positions.size()) == x.rows, "templlm: rope: shapes disagree");
    gpu::rope(stream_, x, heads, head_dim, device_positions(positions),
              device_inv_freq(table.inv_freq), static_cast<int>(table.inv_freq.size()),
              table.attention_factor, table.layout);
  }
  /// Llama 4 temperature tuning on NoPE layers: q *= log1p(floor((p + 1) / floor_scale)) * s + 1.
  void scale_rows_by_position(MatrixView<float, Device> x, std::span<const int> positions,
                              float floor_scale, float attn_scale) {
    check(std::int64_t(positions.size()) == x.rows, "templlm: scale_rows_by_position: shapes disagree");
    gpu::scale_rows_by_position(stream_, x, device_positions(positions), floor_scale, attn_scale);
  }
  void attention(MatrixView<float, Device> out, MatrixView<const float, Device> q,
                 MatrixView<const float, Device> k_new, MatrixView<const float, Device> v_new,
                 const KvLayerView& cache, const AttentionArgs& a) {
    gpu::attention(stream_, out, q, k_new, v_new, cache, a);
  }
  void kv_store(const KvLayerView& cache, MatrixView<const float, Device> k_new,
                MatrixView<const float, Device> v_new, std::int64_t start) {
    gpu::kv_store(stream_, cache, k_new, v_new, start);
  }
  void route_topk(MatrixView<int, Device> ids, MatrixView<float, Device> weights,
                  MatrixView<const float, Device> logits, const cfg::TopK& r) {
    gpu::route_topk(stream_, ids, weights, logits, r);
  }
  void moe_experts(MatrixView<float, Device> out, MatrixView<const float, Device> x,
                   MatrixView<const int, Device> ids, MatrixView<const float, Device> weights,
                   std::span<const ExpertWeights> experts, const cfg::SwiGlu& f, bool input_scale) {
    gpu::moe_experts(stream_, moe_, out, x, ids, weights, expert_table(experts, x.cols, f), f, input_scale);
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

 private:
  /// Positions are the same for every layer of a forward (and for q and k): upload on change.
  const int* device_positions(std::span<const int> positions) {
    if (!std::equal(positions.begin(), positions.end(), positions_host_.begin(), positions_host_.end())) {
      positions_host_.assign(positions.begin(), positions.end());
      copy_from_host(positions_, positions);
    }
    return positions_.data();
  }
  /// One model's RoPE table is constant: upload on change.
  const float* device_inv_freq(std::span<const float> inv_freq) {
    if (!std::equal(inv_freq.begin(), inv_freq.end(), inv_freq_host_.begin(), inv_freq_host_.end())) {
      inv_freq_host_.assign(inv_freq.begin(), inv_freq.end());
      copy_from_host(inv_freq_, inv_freq);
    }
    return inv_freq_.data();
  }
  /// The device table of an expert list, built on first use and rebuilt if the list changes.
  ExpertTable expert_table(std::span<const ExpertWeights> experts, std::int64_t hidden, const cfg::SwiGlu& f) {
    check(!experts.empty(), "templlm: moe_experts: no experts");
    std::vector<ExpertPointers> pointers(experts.size());
    const DType wt = experts[0].gate.dtype, bt = experts[0].gate_bias.dtype;
    const bool bias = !experts[0].gate_bias.empty();
    for (std::size_t e = 0; e < experts.size(); ++e) {
      const auto& x = experts[e];
      check(x.gate.dtype == wt && x.up.dtype == wt && x.down.dtype == wt,
            "templlm: moe_experts: the CUDA backend needs one weight dtype for all experts");
      check(x.gate.rank == 2 && x.gate.shape[0] == f.intermediate && x.gate.shape[1] == hidden &&
                x.up.rank == 2 && x.up.shape[0] == f.intermediate && x.up.shape[1] == hidden &&
                x.down.rank == 2 && x.down.shape[0] == hidden && x.down.shape[1] == f.intermediate,
            "templlm: moe_experts: expert weight shapes disagree");
      check(x.gate_bias.empty() == !bias && x.up_bias.empty() == !bias && x.down_bias.empty() == !bias &&
                (!bias || (x.gate_bias.dtype == bt && x.up_bias.dtype == bt && x.down_bias.dtype == bt)),
            "templlm: moe_experts: experts must all have biases of one dtype, or none");
      pointers[e] = {x.gate.data, x.up.data, x.down.data, x.gate_bias.data, x.up_bias.data, x.down_bias.data};
    }
    detail::require_decodable(wt, "experts");
    if (bias) detail::require_decodable(bt, "expert biases");
    auto& entry = expert_tables_[experts.data()];
    if (entry.host != pointers) {
      entry.host = pointers;
      entry.device.resize(pointers.size());
      cuda_check(cudaMemcpyAsync(entry.device.data(), pointers.data(), pointers.size() * sizeof(ExpertPointers),
                                 cudaMemcpyHostToDevice, stream_),
                 "cudaMemcpyAsync (expert table)");
    }
    return {entry.device.data(), static_cast<int>(experts.size()), wt, bias ? bt : DType::f32, hidden,
            f.intermediate, bias};
  }

  struct TableEntry {
    std::vector<ExpertPointers> host;
    DeviceBuffer<ExpertPointers> device;
  };

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::deque<DeviceBuffer<std::byte>> weights_;  // deque: views stay valid as it grows
  std::deque<DeviceBuffer<float>> vectors_;
  DeviceBuffer<int> ids_, positions_;
  DeviceBuffer<float> inv_freq_, decode_scratch_, ffn_scratch_;
  std::vector<int> positions_host_;
  std::vector<float> inv_freq_host_;
  std::unordered_map<const void*, TableEntry> expert_tables_;
  MoeWorkspace moe_;
};

}  // namespace templlm::gpu
