// SPDX-License-Identifier: Apache-2.0
/// \file cuda.hpp
/// The CUDA backend and what runs on it, in one include for a .cu file: the backend contract,
/// the CUDA backend, the model descriptions, the layers, checkpoint loading and the runtime's
/// loaded models. Link templlm::cuda. The tokenizers are left out on purpose: nvcc must not see
/// range-v3 (docs/toolchain.md), so tokenize in a C++ translation unit (<templlm/templlm.hpp>).
#pragma once

#include "core/backend.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "io/hf_config.hpp"
#include "io/weight_store.hpp"
#include "kernels/cuda/backend.cuh"
#include "layers/transformer.hpp"
#include "model/all.hpp"
#include "runtime/model.hpp"
#include "runtime/registry.hpp"
