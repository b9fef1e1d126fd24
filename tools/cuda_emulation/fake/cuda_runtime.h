// SPDX-License-Identifier: Apache-2.0
// tools/cuda_emulation: the subset of the CUDA runtime that templlm::gpu uses, emulated on the
// host so the CUDA backend's kernels can run (slowly) on a machine without a GPU. Every CUDA
// thread of a block is a fiber (ucontext) on one OS thread; __syncthreads and warp shuffles are
// barriers between fibers; blocks run one after another, so __shared__ is a static local.
// "Device" memory is host memory, poisoned with 0xcd on allocation; copies are memcpy; streams
// are no-ops. Checks logic and indexing only: nothing about speed, real warp scheduling, races
// between blocks, device math libraries, cuBLAS or CUB (see cublas_v2.h and cub/).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <vector>

#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline dim3 threadIdx, blockIdx, blockDim, gridDim;
// vector_types.h: the 16-byte vector the kernels load (aligned like the device's).
struct alignas(16) uint4 { unsigned int x, y, z, w; };

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorNoDevice = 100 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
struct CUstream_st {};
using cudaStream_t = CUstream_st*;

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

namespace emu {
// Cooperative fibers: one per CUDA thread of the running block, scheduled on one OS thread.
enum class Wait { none, block, warp, done };
struct Fiber {
  ucontext_t ctx;
  Wait wait = Wait::none;
};
struct State {
  std::vector<Fiber> fibers;
  std::vector<std::vector<char>> stacks;
  ucontext_t scheduler;
  unsigned current = 0, threads = 0;
  dim3 block;
  std::function<void()> kernel;
  std::vector<std::uint64_t> exchange;
  std::vector<unsigned char> dynamic;
};
inline State st;
struct Current { unsigned char* dynamic_shared; };
inline Current current{};
inline unsigned flat_tid() { return st.current; }
inline void set_idx(unsigned t) {
  threadIdx = dim3(t % st.block.x, (t / st.block.x) % st.block.y, t / (st.block.x * st.block.y));
}
inline void entry() {
  st.kernel();
  st.fibers[st.current].wait = Wait::done;
  swapcontext(&st.fibers[st.current].ctx, &st.scheduler);
}
inline void yield(Wait w) {
  st.fibers[st.current].wait = w;
  swapcontext(&st.fibers[st.current].ctx, &st.scheduler);
}
template <class F>
void launch(dim3 grid, dim3 block, std::size_t shmem, F&& kernel) {
  const unsigned threads = block.x * block.y * block.z;
  st.threads = threads;
  st.block = block;
  st.kernel = kernel;
  st.exchange.assign(threads, 0);
  st.dynamic.assign(shmem + 16, 0xcd);
  current.dynamic_shared = st.dynamic.data();
  if (st.stacks.size() < threads) st.stacks.resize(threads, std::vector<char>(256 * 1024));
  blockDim = block;
  gridDim = grid;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = dim3(bx, by, bz);
        st.fibers.assign(threads, Fiber{});
        for (unsigned t = 0; t < threads; ++t) {
          getcontext(&st.fibers[t].ctx);
          st.fibers[t].ctx.uc_stack.ss_sp = st.stacks[t].data();
          st.fibers[t].ctx.uc_stack.ss_size = st.stacks[t].size();
          st.fibers[t].ctx.uc_link = nullptr;
          makecontext(&st.fibers[t].ctx, entry, 0);
        }
        for (;;) {
          bool ran = false;
          for (unsigned t = 0; t < threads; ++t)
            if (st.fibers[t].wait == Wait::none) {
              st.current = t;
              set_idx(t);
              swapcontext(&st.scheduler, &st.fibers[t].ctx);
              ran = true;
            }
          unsigned live = 0, at_block = 0;
          for (auto& f : st.fibers) { live += f.wait != Wait::done; at_block += f.wait == Wait::block; }
          if (live == 0) break;
          if (at_block == live) { for (auto& f : st.fibers) if (f.wait == Wait::block) f.wait = Wait::none; continue; }
          bool released = false;
          for (unsigned w = 0; w * 32 < threads; ++w) {
            unsigned wl = 0, ww = 0;
            for (unsigned t = 32 * w; t < std::min(threads, 32 * w + 32); ++t) {
              wl += st.fibers[t].wait != Wait::done; ww += st.fibers[t].wait == Wait::warp;
            }
            if (wl > 0 && ww == wl) {
              for (unsigned t = 32 * w; t < std::min(threads, 32 * w + 32); ++t) st.fibers[t].wait = Wait::none;
              released = true;
            }
          }
          if (!released && !ran) throw std::runtime_error("emu: deadlock (mixed block and warp barriers)");
        }
      }
}
inline void sync() { yield(Wait::block); }
template <class T>
T shfl_xor(T v, int offset) {
  static_assert(sizeof(T) <= 8);
  const unsigned t = flat_tid(), lane = t % 32, base = t - lane;
  std::memcpy(&st.exchange[t], &v, sizeof(T));
  yield(Wait::warp);
  T out;
  std::memcpy(&out, &st.exchange[base + (lane ^ unsigned(offset))], sizeof(T));
  yield(Wait::warp);
  return out;
}
}  // namespace emu

inline void __syncthreads() { emu::sync(); }
template <class T>
T __shfl_xor_sync(unsigned, T v, int offset) { return emu::shfl_xor(v, offset); }

inline const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
// The attributes kernels size their launches by, with an H100 SXM's values.
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrMultiProcessorCount ? 132 : 227 * 1024;
  return cudaSuccess;
}
// Opting a kernel into more dynamic shared memory: nothing to do when blocks run on the host.
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <class F>
cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { *s = new CUstream_st; return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, std::size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256 + 256);
  std::memset(*p, 0xcd, (n + 255) / 256 * 256);  // poison: kernels must write what they read
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMemset(void* p, int v, std::size_t n) { std::memset(p, v, n); return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, std::size_t n, cudaMemcpyKind) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, std::size_t n, cudaMemcpyKind k, cudaStream_t) {
  return cudaMemcpy(d, s, n, k);
}
inline cudaError_t cudaMemcpy2DAsync(void* d, std::size_t dpitch, const void* s, std::size_t spitch,
                                     std::size_t width, std::size_t height, cudaMemcpyKind, cudaStream_t) {
  for (std::size_t r = 0; r < height; ++r)
    std::memcpy(static_cast<char*>(d) + r * dpitch, static_cast<const char*>(s) + r * spitch, width);
  return cudaSuccess;
}
inline cudaError_t cudaMemset2DAsync(void* d, std::size_t pitch, int v, std::size_t width, std::size_t height,
                                     cudaStream_t) {
  for (std::size_t r = 0; r < height; ++r) std::memset(static_cast<char*>(d) + r * pitch, v, width);
  return cudaSuccess;
}
// Stream-ordered allocation (streams are no-ops here): as cudaMalloc / cudaFree.
inline cudaError_t cudaMallocAsync(void** p, std::size_t n, cudaStream_t) { return cudaMalloc(p, n); }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return cudaFree(p); }
