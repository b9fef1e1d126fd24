// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: cub::BlockScan::ExclusiveSum through shared memory.
#pragma once
#include "../../cuda_runtime.h"
namespace cub {
template <class T, int N>
class BlockScan {
 public:
  struct TempStorage { T v[N]; };
  explicit BlockScan(TempStorage& s) : s_(s) {}
  void ExclusiveSum(T x, T& out, T& aggregate) {
    const unsigned t = emu::flat_tid();
    s_.v[t] = x;
    __syncthreads();
    T before{}, total{};
    for (int i = 0; i < N; ++i) { if (unsigned(i) < t) before += s_.v[i]; total += s_.v[i]; }
    out = before;
    aggregate = total;
    __syncthreads();
  }
 private:
  TempStorage& s_;
};
}  // namespace cub
