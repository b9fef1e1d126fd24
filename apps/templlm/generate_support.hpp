// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/generate_support.hpp
/// Shared by `generate` and `chat --model` (defined in generate_cmd.cpp, the one translation
/// unit that instantiates every loadable description).
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/core/sampling.hpp>
#include <templlm/runtime/model.hpp>
#include <templlm/tokenizer/chat/any.hpp>
#include <templlm/tokenizer/chat/options.hpp>

#include "args.hpp"

namespace templlm::cli {
/// The numeric flags `generate` and `chat` share, each checked against its whole range.
struct SamplingFlags {
  SamplingParams sampling;
  int max_tokens = 64;
  std::int64_t context = 0;  // 0: not given
  unsigned threads = 0;      // 0: all cores
};
/// Reads --max-tokens, --temperature, --top-p, --top-k, --min-p, the three penalties, --seed,
/// --context and --threads; a value out of range is a UsageError naming the flag and the range.
SamplingFlags parse_sampling_flags(const Args& args, float default_temperature, float default_top_p);
/// config.json's max_position_embeddings in `dir` (text_config's for multimodal configs), or 0
/// when it does not say.
std::int64_t model_context_limit(const std::filesystem::path& dir);
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
/// The chat format of the model in dir (chat_cmd.cpp): `family` (a --family name) if not empty,
/// else the one its description names, refined by its tokenizer_config.json template. Empty, with
/// `why` set, when there is none.
std::optional<tokenizer::chat::AnyChat> model_chat_format(const std::filesystem::path& dir, const std::string& family,
                                                          tokenizer::chat::ChatOptions c, std::string& why);
}  // namespace templlm::cli
