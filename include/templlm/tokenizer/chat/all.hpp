// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/chat/all.hpp
/// Every chat format: HarmonyChat (GPT-OSS), Qwen3Chat, DeepSeekChat (V3/R1), Llama3Chat,
/// Llama4Chat, MistralChat (v1/v3). Each has `render(messages, add_generation_prompt)`,
/// `parse(generated)` and `stop_ids`.
#pragma once
#include "templlm/tokenizer/chat/deepseek.hpp"
#include "templlm/tokenizer/chat/harmony.hpp"
#include "templlm/tokenizer/chat/llama.hpp"
#include "templlm/tokenizer/chat/message.hpp"
#include "templlm/tokenizer/chat/mistral.hpp"
#include "templlm/tokenizer/chat/qwen3.hpp"
