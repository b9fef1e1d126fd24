// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/device_buffer.cuh
/// An owning device array that only grows, the device twin of core/aligned_buffer.hpp: resize(n)
/// reallocates (and zeroes) only when n exceeds the capacity, so steady-state forwards do not
/// allocate. Contents are not kept across a growth, as on the host.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "check.cuh"

namespace templlm::gpu {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  /// Grows (never shrinks) the capacity; zeroed on growth. cudaFree of the old block waits for
  /// the device, so no kernel still in flight reads freed memory.
  void resize(std::size_t n) {
    if (n <= capacity_) {
      size_ = n;
      return;
    }
    release();
    void* p = nullptr;
    cuda_check(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc");
    data_ = static_cast<T*>(p);
    cuda_check(cudaMemset(p, 0, n * sizeof(T)), "cudaMemset");
    size_ = capacity_ = n;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }

 private:
  void release() noexcept {
    if (data_) (void)cudaFree(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace templlm::gpu
