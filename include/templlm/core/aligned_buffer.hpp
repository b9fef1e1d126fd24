// SPDX-License-Identifier: Apache-2.0
/// \file core/aligned_buffer.hpp
/// An owning, 64-byte-aligned host array (a cache line; what AVX-512 loads want).
#pragma once
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace templlm {

template <class T>
class AlignedBuffer {
 public:
  static constexpr std::size_t alignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n) { resize(n); }

  /// Grows (never shrinks) the capacity; contents are zeroed on growth.
  void resize(std::size_t n) {
    if (n <= capacity_) {
      size_ = n;
      return;
    }
    const std::size_t bytes = (n * sizeof(T) + alignment - 1) / alignment * alignment;
    data_.reset(static_cast<T*>(::operator new[](bytes, std::align_val_t{alignment})));
    std::memset(static_cast<void*>(data_.get()), 0, bytes);
    size_ = capacity_ = n;
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<T[], Free> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace templlm
