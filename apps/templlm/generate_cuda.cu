// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/generate_cuda.cu
/// `--backend cuda` for `templlm generate`: every loadable description instantiated on
/// gpu::Backend. Its own translation unit (compiled only with TEMPLLM_ENABLE_CUDA) because nvcc
/// must compile it and the tokenizer's range-v3 must not be seen by nvcc (docs/toolchain.md).
#include <filesystem>
#include <memory>
#include <string>
#include <templlm/kernels/cuda/backend.cuh>
#include <templlm/model/all.hpp>
#include <templlm/runtime/registry.hpp>

#include "generate_support.hpp"

namespace templlm::cli {

/// The same loader as the CPU's (runtime::load_model), on a backend the model keeps alive, so
/// step_sample reaches the device sampler.
std::unique_ptr<runtime::AnyModel> load_any_model_cuda(const std::filesystem::path& dir, bool progress,
                                                       CudaPrecision precision) {
  if (gpu::device_count() == 0)
    throw Unsupported("templlm: --backend cuda: no CUDA device is visible on this machine "
                      "(cudaGetDeviceCount found none); use --backend cpu");
  const auto p = precision == CudaPrecision::bf16 ? gpu::Precision::bf16 : gpu::Precision::fp32;
  auto be = std::make_shared<gpu::Backend>(0, p);
  auto model = runtime::load_model(model::LoadableModels{}, *be, dir, load_progress(progress));
  model->keep_alive(std::move(be));
  return model;
}

}  // namespace templlm::cli
