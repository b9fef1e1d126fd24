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
#include <type_traits>

#include "generate_support.hpp"

namespace templlm::cli {
namespace {

/// A model on the GPU together with the backend that holds its weights (destroyed after it).
class CudaModel final : public runtime::AnyModel {
 public:
  explicit CudaModel(std::unique_ptr<gpu::Backend> be) : be_(std::move(be)) {}
  gpu::Backend& backend() { return *be_; }
  void set(std::unique_ptr<runtime::AnyModel> m) { model_ = std::move(m); }

  std::string_view name() const override { return model_->name(); }
  std::int64_t vocab() const override { return model_->vocab(); }
  std::vector<float> score(std::span<const int> ids, bool decode, layers::ExpertTrace* trace) override {
    return model_->score(ids, decode, trace);
  }
  std::unique_ptr<runtime::Sequence> new_sequence(std::int64_t max_context) override {
    return model_->new_sequence(max_context);
  }
  void step(std::span<const runtime::Step> steps, std::span<float> logits) override {
    model_->step(steps, logits);
  }

 private:
  std::unique_ptr<gpu::Backend> be_;  // declared first: destroyed after the model
  std::unique_ptr<runtime::AnyModel> model_;
};

}  // namespace

std::unique_ptr<runtime::AnyModel> load_any_model_cuda(const std::filesystem::path& dir, bool progress,
                                                       CudaPrecision precision) {
  if (gpu::device_count() == 0)
    throw Unsupported("templlm: --backend cuda: no CUDA device is visible on this machine "
                      "(cudaGetDeviceCount found none); use --backend cpu");
  const auto config = io::HfConfig::load(dir);
  const auto p = precision == CudaPrecision::bf16 ? gpu::Precision::bf16 : gpu::Precision::fp32;
  auto out = std::make_unique<CudaModel>(std::make_unique<gpu::Backend>(0, p));
  runtime::with_matching_description(model::LoadableModels{}, config, dir.string(), [&]<class M>() {
    if constexpr (layers::runnable<M>) {
      config.check(M::hf_fields(), M::name);
      out->set(std::make_unique<runtime::Model<M, gpu::Backend>>(
          out->backend(), io::WeightStore::open(dir, load_progress(progress))));
    } else {
      throw Unsupported("templlm: " + std::string(M::name) +
                        " is described but its layers are not implemented in this build yet");
    }
  });
  return out;
}

}  // namespace templlm::cli
