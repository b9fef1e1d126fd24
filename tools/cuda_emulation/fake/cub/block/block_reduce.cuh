// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: cub::BlockReduce through shared memory; thread 0 folds in order.
#pragma once
#include "../../cuda_runtime.h"
namespace cub {
template <class T, int N>
class BlockReduce {
 public:
  struct TempStorage { T v[N]; };
  explicit BlockReduce(TempStorage& s) : s_(s) {}
  template <class Op>
  T Reduce(T x, Op op) {
    const unsigned t = emu::flat_tid();
    s_.v[t] = x;
    __syncthreads();
    T r = s_.v[0];
    if (t == 0) for (int i = 1; i < N; ++i) r = op(r, s_.v[i]);
    __syncthreads();
    return r;
  }
  T Sum(T x) { return Reduce(x, [](T a, T b) { return a + b; }); }
 private:
  TempStorage& s_;
};
}  // namespace cub
