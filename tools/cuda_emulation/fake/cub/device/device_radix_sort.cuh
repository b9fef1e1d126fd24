// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: cub::DeviceRadixSort::SortPairs as a host stable sort on the key bits.
#pragma once
#include <numeric>
#include "../../cuda_runtime.h"
namespace cub {
struct DeviceRadixSort {
  template <class K, class V>
  static cudaError_t SortPairs(void* temp, std::size_t& bytes, const K* kin, K* kout, const V* vin, V* vout,
                               int n, int begin_bit, int end_bit, cudaStream_t) {
    if (!temp) { bytes = 64; return cudaSuccess; }
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    auto bits = [&](K k) { return (static_cast<unsigned>(k) >> begin_bit) & ((1u << (end_bit - begin_bit)) - 1u); };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bits(kin[a]) < bits(kin[b]); });
    for (int i = 0; i < n; ++i) { kout[i] = kin[order[i]]; vout[i] = vin[order[i]]; }
    return cudaSuccess;
  }
};
}  // namespace cub
