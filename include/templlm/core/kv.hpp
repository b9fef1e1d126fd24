// SPDX-License-Identifier: Apache-2.0
/// \file core/kv.hpp
/// What the attention and cache-store ops see of the paged KV cache (layers/kv_pool.hpp owns
/// it): one layer's page storage, the chunks of a step and their page tables. Plain data, the
/// same on both backends; the index arithmetic is written once, host/device.
///
/// A page holds `1 << page_shift` consecutive positions of one sequence. Chunk c's logical page
/// i (positions [i << shift, (i + 1) << shift)) is physical page pages[offsets[c] + i]; -1 marks
/// a page freed because it fell out of every window of its layers (never read: the masks see to
/// it). Physical page g of a layer lives at rows [g << shift, (g + 1) << shift) of its storage.
#pragma once
#include <cstdint>
#include <span>
#include <type_traits>

#include "macros.hpp"
#include "numeric.hpp"

namespace templlm {

/// A bf16 cache element (the top half of an fp32, rounded to nearest even on store).
struct Bf16 {
  std::uint16_t bits;
};

/// Cache element types: fp32 (the exact path) and bf16 (half the memory).
template <class T>
concept KvElement = std::is_same_v<T, float> || std::is_same_v<T, Bf16>;

TEMPLLM_HOST_DEVICE constexpr float kv_load(float x) { return x; }
TEMPLLM_HOST_DEVICE constexpr float kv_load(Bf16 x) { return bf16_to_f32(x.bits); }
TEMPLLM_HOST_DEVICE constexpr void kv_put(float& dst, float x) { dst = x; }
TEMPLLM_HOST_DEVICE constexpr void kv_put(Bf16& dst, float x) { dst.bits = f32_to_bf16(x); }

/// One layer's page storage in backend memory: keys [pages << shift, k_width] and values
/// [pages << shift, v_width] (v is null for a cache without values: MLA's latents).
template <class T, class Space>
struct KvPages {
  T* k = nullptr;
  T* v = nullptr;
  std::int64_t k_width = 0, v_width = 0;
};

/// One chunk of a step: `tokens` consecutive rows of the packed activations, from row
/// first_row, continuing a sequence that already holds `start` positions.
struct StepChunk {
  std::int64_t first_row = 0, tokens = 0, start = 0;
};

/// The page tables of one step for one group of layers (layers that share page ids), in
/// backend memory.
struct PageTables {
  const int* pages = nullptr;
  const std::int64_t* offsets = nullptr;  // [chunks]: where chunk c's table begins in pages
  int page_shift = 4;

  /// The storage row of position p of chunk c, or -1 if its page was freed.
  TEMPLLM_HOST_DEVICE std::int64_t slot(int chunk, std::int64_t p) const {
    const int page = pages[offsets[chunk] + (p >> page_shift)];
    if (page < 0) return -1;
    return (std::int64_t(page) << page_shift) + (p & ((std::int64_t(1) << page_shift) - 1));
  }
};

/// Everything a batched attention or store op needs to find every chunk's cache: the chunks in
/// host memory (the backend sizes its launches from them) and in backend memory (kernels read
/// them), and the page tables of the layer's group. On the CPU both copies are the same memory.
struct KvBatch {
  std::span<const StepChunk> chunks;          // host memory
  const StepChunk* device_chunks = nullptr;   // backend memory
  const int* device_row_chunk = nullptr;      // backend memory: [rows] the chunk of each row
  PageTables tables;                          // backend memory
  std::int64_t rows = 0;                      // packed rows of the step (sum of tokens)
  std::int64_t max_tokens = 0;                // the longest chunk
  std::int64_t max_length = 0;                // the longest start + tokens
};

}  // namespace templlm
