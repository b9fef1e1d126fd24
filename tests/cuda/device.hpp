// SPDX-License-Identifier: Apache-2.0
/// \file tests/cuda/device.hpp
/// Skipping CUDA tests cleanly where there is no device: every test of tests/cuda derives its
/// fixture from GpuTest (or calls skip_without_device() first), so a machine without a GPU or
/// without a driver reports them as skipped with the reason, never as failed.
#pragma once
#include <gtest/gtest.h>

#include <templlm/kernels/cuda/check.cuh>

namespace templlm::test {

/// True when cudaGetDeviceCount succeeds and reports at least one device.
inline bool has_cuda_device() { return gpu::device_count() > 0; }

/// A fixture whose SetUp skips the test without a device; derived fixtures construct their
/// backends in their own SetUp after calling this one (and returning if it skipped).
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_cuda_device()) GTEST_SKIP() << "no CUDA device";
  }
};

}  // namespace templlm::test
