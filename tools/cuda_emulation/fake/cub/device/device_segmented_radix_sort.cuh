// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: cub::DeviceSegmentedRadixSort::SortKeysDescending as a host stable sort
// of each segment [begin[s], end[s]) on the key bits [begin_bit, end_bit) (unsigned integer keys).
// As CUB: a null d_temp_storage only sets temp_storage_bytes (the keys' double buffer and a
// little more); too small a buffer is an error; items outside every segment are not written.
#pragma once
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>
#include "../../cuda_runtime.h"
namespace cub {
struct DeviceSegmentedRadixSort {
  template <class K, class BeginOffsetIteratorT, class EndOffsetIteratorT>
  static cudaError_t SortKeysDescending(void* d_temp_storage, std::size_t& temp_storage_bytes, const K* d_keys_in,
                                        K* d_keys_out, std::int64_t num_items, std::int64_t num_segments,
                                        BeginOffsetIteratorT d_begin_offsets, EndOffsetIteratorT d_end_offsets,
                                        int begin_bit = 0, int end_bit = sizeof(K) * 8, cudaStream_t = nullptr) {
    static_assert(std::is_unsigned_v<K>, "emulated for unsigned integer keys only");
    const std::size_t need = std::size_t(num_items) * sizeof(K) + 256;
    if (!d_temp_storage) { temp_storage_bytes = need; return cudaSuccess; }
    if (temp_storage_bytes < need) return cudaErrorInvalidValue;
    const int width = end_bit - begin_bit;
    const std::uint64_t mask = width >= 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << width) - 1;
    auto bits = [&](K k) { return (std::uint64_t(k) >> begin_bit) & mask; };
    std::vector<K> seg;
    for (std::int64_t s = 0; s < num_segments; ++s) {
      const std::int64_t b = d_begin_offsets[s], e = d_end_offsets[s];
      if (e <= b) continue;
      seg.assign(d_keys_in + b, d_keys_in + e);
      std::stable_sort(seg.begin(), seg.end(), [&](K x, K y) { return bits(x) > bits(y); });
      std::copy(seg.begin(), seg.end(), d_keys_out + b);
    }
    return cudaSuccess;
  }
};
}  // namespace cub
