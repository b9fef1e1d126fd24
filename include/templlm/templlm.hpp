// SPDX-License-Identifier: Apache-2.0
/// \file templlm.hpp
/// Everything of templlm that runs on the CPU, in one include: the backend contract and the CPU
/// backend, the model descriptions, the layers, checkpoint and config loading, tokenizers and
/// chat formats, and the runtime (loaded models, generation, sampling). Link templlm::templlm.
/// The headers one by one are as usable; this is for applications that want all of it.
#pragma once

#include "core/backend.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/kv.hpp"
#include "core/math.hpp"
#include "core/vision_backend.hpp"
#include "io/hf_config.hpp"
#include "io/image.hpp"
#include "io/npy.hpp"
#include "io/weight_source.hpp"
#include "io/weight_store.hpp"
#include "kernels/cpu/backend.hpp"
#include "layers/kv_pool.hpp"
#include "layers/transformer.hpp"
#include "model/all.hpp"
#include "model/params.hpp"
#include "runtime/generator.hpp"
#include "runtime/model.hpp"
#include "runtime/registry.hpp"
#include "runtime/sampler.hpp"
#include "tokenizer/chat/all.hpp"
#include "tokenizer/tokenizer.hpp"
#include "vision/llama4_image_input.hpp"
