// SPDX-License-Identifier: Apache-2.0
// The chat format is part of the description (M::chat_format()), not an app-side switch on
// config.json's model_type; per-run options and the checkpoint's own template refine it.
#include <gtest/gtest.h>

#include <type_traits>

#include "templlm/model/all.hpp"

namespace {

using namespace templlm;
namespace chat = tokenizer::chat;

chat::ChatOptions with_template(std::string t) {
  chat::ChatOptions o;
  o.checkpoint_template = std::move(t);
  return o;
}

template <class M, class Format>
constexpr bool speaks = std::is_same_v<decltype(M::chat_format()), Format>;

static_assert(speaks<model::GptOss120B, chat::HarmonyChat> && speaks<model::GptOssTiny, chat::HarmonyChat>);
static_assert(speaks<model::Qwen3_235B_A22B, chat::Qwen3Chat> && speaks<model::Qwen3_8B, chat::Qwen3Chat>);
static_assert(speaks<model::TemplDemo, chat::Qwen3Chat>);
static_assert(speaks<model::DeepSeekV3, chat::DeepSeekChat>);
static_assert(speaks<model::DeepSeekR1DistillQwen7B, chat::DeepSeekChat> &&
              speaks<model::DeepSeekR1DistillLlama8B, chat::DeepSeekChat>);
static_assert(speaks<model::Llama4Scout, chat::Llama4Chat> && speaks<model::Llama4MaverickText, chat::Llama4Chat>);
static_assert(speaks<model::Mixtral8x7B, chat::MistralChat> && speaks<model::Mixtral8x22B, chat::MistralChat>);

TEST(ChatFormat, EachLoadableDescriptionNamesOne) {
  int described = 0, total = 0;
  for_each_type(model::LoadableModels{}, [&]<class M>() {
    ++total;
    described += requires { M::chat_format(); };
  });
  EXPECT_EQ(described, total) << "a compiled-in description without M::chat_format()";
}

TEST(ChatFormat, MixtralVersionsFollowTheRelease) {
  EXPECT_EQ(model::Mixtral8x7B::chat_format().version, 1);   // Mixtral-8x7B-Instruct-v0.1
  EXPECT_EQ(model::Mixtral8x22B::chat_format().version, 3);  // Mixtral-8x22B-Instruct-v0.1
}

TEST(ChatFormat, DeepSeekV3AndR1AreToldApartByTheCheckpointsTemplate) {
  const auto r1 = chat::configured(model::DeepSeekV3::chat_format(),
                                   with_template("{{'<｜Assistant｜><think>\\n'}}"));
  const auto v3 = chat::configured(model::DeepSeekV3::chat_format(),
                                   with_template("{{'<｜Assistant｜>'}}"));
  const auto none = chat::configured(model::DeepSeekV3::chat_format(), {});
  EXPECT_TRUE(r1.r1);
  EXPECT_FALSE(v3.r1);
  EXPECT_TRUE(none.r1) << "without a template the description's choice (R1) stands";
  const std::vector<chat::Message> m{{"user", "hi"}};
  EXPECT_NE(r1.render(m), v3.render(m)) << "the two variants render differently";
}

TEST(ChatFormat, OptionsReachTheFormat) {
  chat::ChatOptions o;
  o.thinking = false;
  EXPECT_FALSE(chat::configured(model::Qwen3_8B::chat_format(), o).enable_thinking);
  o.reasoning = "high";
  o.date = "2026-12-03";
  const auto h = chat::configured(model::GptOss20B::chat_format(), o);
  EXPECT_EQ(h.reasoning, chat::HarmonyChat::Reasoning::high);
  EXPECT_EQ(h.date, "2026-12-03");
  o.reasoning = "extreme";
  EXPECT_THROW(chat::configured(model::GptOss20B::chat_format(), o), InvalidInput);
}

}  // namespace
