// SPDX-License-Identifier: Apache-2.0
/// \file core/backend.hpp
/// The contract between the layers and a backend: every type, memory operation and op a layer
/// may use, written as a concept. kernels/cpu/backend.hpp (the specification) and
/// kernels/cuda/backend.cuh satisfy it and static_assert so; a third backend (HIP, Metal, a
/// multi-device one) is written from this header and docs/backends.md alone.
///
/// Conventions every backend keeps:
///  * Memory lives in one space (`B::space`: Host or Device); every view it hands out is typed
///    by that space, so host and backend pointers never mix. Nothing crosses as a raw pointer.
///  * Activations are fp32 row-major MatrixViews; weights keep their stored form (WeightView).
///  * Destination first. Ops may be asynchronous; copy_to_host and synchronize wait. Host memory
///    passed to an op may be reused as soon as the call returns.
///  * prepare_* and upload* run once at load; what they return stays valid while the backend
///    lives and is read-only (shared by every caller). The forward does no validation of weights.
///  * The batched ops (attention, kv_store, mla_attention) take the whole step: every chunk of
///    every sequence, through the KvBatch of core/kv.hpp, in one call.
///  * Results equal the CPU backend's to fp32 rounding (the CPU backend is the specification).
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "config.hpp"
#include "kv.hpp"
#include "mla_args.hpp"
#include "op_args.hpp"
#include "sampling.hpp"
#include "tensor.hpp"

namespace templlm {

/// The memory and preparation half of the contract, for one buffer element type T.
template <class B, class T>
concept BackendMemoryOf = requires(B& be, typename B::template Buffer<T>& buf, std::span<const T> host,
                                   std::span<T> out, MatrixView<T, typename B::space> dst,
                                   MatrixView<const T, typename B::space> src) {
  { be.matrix(buf, std::int64_t{}, std::int64_t{}) } -> std::same_as<MatrixView<T, typename B::space>>;
  be.copy_from_host(buf, host);  // buf holds exactly host's elements
  be.copy_to_host(out, src);     // waits
  be.grow(buf, std::size_t{});   // keeps the contents (the KV pool's storage)
  be.copy(dst, src);             // same shape, element for element
};

/// The batched cache ops for one cache element type T (core/kv.hpp). Every backend has the fp32
/// cache (the exact path); a bf16 cache is optional (the CPU backend has it), checked where a
/// model with one is instantiated.
template <class B, class T>
concept BackendCacheOf = requires(B& be, MatrixView<float, typename B::space> out,
                                  MatrixView<const float, typename B::space> in,
                                  const KvPages<T, typename B::space>& pages, const KvBatch& batch,
                                  const WeightView<typename B::space>& w, const AttentionArgs& a,
                                  const MlaArgs& m) {
  be.attention(out, in, in, in, pages, batch, a);  // out, q, k_new, v_new
  be.kv_store(pages, batch, in, in);               // k_new, v_new (unused without values)
  be.mla_attention(out, in, in, pages, batch, w, m);  // out, q, latent_new, ..., kv_b
};

template <class B, class T>
concept BackendCache = BackendMemoryOf<B, T> && BackendCacheOf<B, T>;

template <class B>
concept Backend =
    (std::same_as<typename B::space, Host> || std::same_as<typename B::space, Device>) &&
    BackendMemoryOf<B, float> && BackendMemoryOf<B, int> && BackendMemoryOf<B, std::int64_t> &&
    BackendMemoryOf<B, StepChunk> && BackendCacheOf<B, float> &&
    requires(B& be, const WeightView<Host>& host_weight, std::span<const float> values,
             const RopeTable& rope_table, std::vector<ExpertWeights<typename B::space>> experts,
             MatrixView<float, typename B::space> y, MatrixView<const float, typename B::space> x,
             MatrixView<int, typename B::space> ids, MatrixView<float, typename B::space> weights,
             const WeightView<typename B::space>& w, VectorView<const float, typename B::space> vec,
             const Positions<typename B::space>& positions, const RopeView<typename B::space>& rope,
             const Routing<typename B::space>& routing, const typename B::Experts& prepared,
             const ExpertWeights<typename B::space>& ffn, std::span<const int> host_ids) {
      // Load time: weights in their stored form, small vectors in fp32, prepared tables.
      { be.upload(host_weight) } -> std::same_as<WeightView<typename B::space>>;
      { be.upload_f32(host_weight) } -> std::same_as<VectorView<const float, typename B::space>>;
      { be.own(values) } -> std::same_as<WeightView<typename B::space>>;
      { be.prepare_rope(rope_table) } -> std::same_as<RopeView<typename B::space>>;
      { be.prepare_experts(experts, std::int64_t{}, cfg::SwiGlu{}) } -> std::same_as<typename B::Experts>;
      be.synchronize();
      // The ops, destination first.
      be.embed(y, w, host_ids);
      be.linear(y, x, w, w);                      // y = x W^T + bias (bias may be empty)
      be.rms_norm(y, x, vec, float{});            // vec empty: weightless
      be.rope(y, int{}, int{}, positions, rope);  // heads, head_dim
      be.rope_part(y, int{}, int{}, int{}, positions, rope);  // heads, head_stride, offset
      be.scale_rows_by_position(y, positions, float{}, float{});
      be.route_topk(ids, weights, x, cfg::TopK{});
      be.route_grouped_topk(ids, weights, x, vec, cfg::GroupedTopK{});
      be.moe_experts(y, x, routing, prepared, cfg::SwiGlu{}, bool{});
      be.gated_ffn(y, x, ffn, cfg::SwiGlu{});
      be.copy_row(y, std::int64_t{}, x, std::int64_t{});
      be.add(y, x);
    };

/// A backend that makes another backend for another caller on the same memory: its own scratch,
/// thread pool or stream, computing on what this one uploaded and prepared (which must outlive
/// it). runtime::Model::new_context uses it so that several threads share one copy of the weights.
template <class B>
concept ContextBackend =
    Backend<B> && requires(const B& be) { { be.new_context() } -> std::same_as<std::unique_ptr<B>>; };

/// A backend that also samples on its own memory (runtime::Model then copies only the ids back).
template <class B>
concept SamplingBackend =
    Backend<B> && requires(B& be, std::span<int> ids, MatrixView<const float, typename B::space> logits,
                           std::span<const SampleRequest> rows) { be.sample(ids, logits, rows); };

}  // namespace templlm
