// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/generate_support.hpp
/// Shared by `generate` and `chat --model` (defined in generate_cmd.cpp, the one translation
/// unit that instantiates every loadable description).
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/runtime/model.hpp>

namespace templlm::cli {
/// The embedded demo model's directory (throws IoError when it is not found).
std::filesystem::path default_model_dir();
/// A progress bar on stderr while weights load (empty when !enabled).
std::function<void(std::uint64_t, std::uint64_t)> load_progress(bool enabled);
/// Loads DIR with any compiled-in description.
std::unique_ptr<runtime::AnyModel> load_any_model(cpu::Backend& be, const std::filesystem::path& dir,
                                                  bool progress);
/// The arithmetic of the CUDA backend's dense projections: gpu::Precision, named here because
/// this header is compiled without CUDA too.
enum class CudaPrecision { fp32, bf16 };
/// The same on the CUDA backend (device 0), which the returned model owns (generate_cuda.cu).
/// Throws Unsupported in a build without CUDA or on a machine without a CUDA device.
std::unique_ptr<runtime::AnyModel> load_any_model_cuda(const std::filesystem::path& dir, bool progress,
                                                       CudaPrecision precision = CudaPrecision::fp32);
}  // namespace templlm::cli
