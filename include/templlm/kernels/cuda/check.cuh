// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/check.cuh
/// Host-side checks of CUDA runtime and cuBLAS return codes: a failure throws CudaError naming
/// the call and the library's error string. Kernels have no error channel; launchers call
/// launch_check(name) after each launch.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <source_location>
#include <string>

#include "../../core/error.hpp"

namespace templlm::gpu {

/// Throws CudaError("templlm: <call> failed: <name>: <description>") unless e is cudaSuccess.
inline void cuda_check(cudaError_t e, const char* call,
                       std::source_location where = std::source_location::current()) {
  if (e == cudaSuccess) [[likely]] return;
  throw CudaError(std::string("templlm: ") + call + " failed: " + cudaGetErrorName(e) + ": " +
                      cudaGetErrorString(e),
                  where);
}

/// Throws CudaError("templlm: <call> failed: <status>: <description>") unless s is success.
inline void cublas_check(cublasStatus_t s, const char* call,
                         std::source_location where = std::source_location::current()) {
  if (s == CUBLAS_STATUS_SUCCESS) [[likely]] return;
  throw CudaError(std::string("templlm: ") + call + " failed: " + cublasGetStatusName(s) + ": " +
                      cublasGetStatusString(s),
                  where);
}

/// After a kernel launch: a bad configuration (grid, shared memory) shows up here.
inline void launch_check(const char* kernel,
                         std::source_location where = std::source_location::current()) {
  cuda_check(cudaGetLastError(), kernel, where);
}

/// The number of visible CUDA devices; 0 when there is no driver or no device (no throw).
inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // reset the last-error slot so later checks start clean
    return 0;
  }
  return n;
}

}  // namespace templlm::gpu
