// SPDX-License-Identifier: Apache-2.0
// `templlm info` on a gpt-oss-120b directory: the released config.json and one safetensors file
// with every tensor of the release at its real shape and dtype (MXFP4 experts as U8 blocks and
// scales). The data section is a sparse file, so the 60.8 GiB cost no disk. info must detect
// gpt-oss-120b, report the weights within 2% of the 60.8 GiB on disk, and MXFP4 for the experts.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

std::string run_cli(const std::string& args, int* status) {
  const std::string cmd = std::string(TEMPLLM_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  *status = WEXITSTATUS(pclose(p));
  return out;
}

/// config.json of openai/gpt-oss-120b (the fields transformers reads; design/architectures.md §1.1).
nlohmann::json gpt_oss_120b_config() {
  nlohmann::json c = {
      {"architectures", {"GptOssForCausalLM"}},
      {"model_type", "gpt_oss"},
      {"attention_bias", true},
      {"attention_dropout", 0.0},
      {"eos_token_id", 200002},
      {"pad_token_id", 199999},
      {"experts_per_token", 4},
      {"num_experts_per_tok", 4},
      {"head_dim", 64},
      {"hidden_act", "silu"},
      {"hidden_size", 2880},
      {"initial_context_length", 4096},
      {"initializer_range", 0.02},
      {"intermediate_size", 2880},
      {"max_position_embeddings", 131072},
      {"num_attention_heads", 64},
      {"num_hidden_layers", 36},
      {"num_key_value_heads", 8},
      {"num_local_experts", 128},
      {"rms_norm_eps", 1e-05},
      {"rope_scaling",
       {{"beta_fast", 32.0},
        {"beta_slow", 1.0},
        {"factor", 32.0},
        {"original_max_position_embeddings", 4096},
        {"rope_type", "yarn"},
        {"truncate", false}}},
      {"rope_theta", 150000},
      {"router_aux_loss_coef", 0.9},
      {"sliding_window", 128},
      {"swiglu_limit", 7.0},
      {"tie_word_embeddings", false},
      {"use_cache", true},
      {"vocab_size", 201088},
      {"quantization_config",
       {{"quant_method", "mxfp4"},
        {"modules_to_not_convert",
         {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens",
          "lm_head"}}}}};
  for (int i = 0; i < 36; ++i)
    c["layer_types"].push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  return c;
}

TEST(CliGptOss, InfoOnTheReleasedGptOss120bLayout) {
  const fs::path dir =
      fs::temp_directory_path() / ("templlm_gpt_oss_120b_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << gpt_oss_120b_config().dump(2);

  // Every tensor of the release (§1.2), laid out back to back.
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  const auto add = [&](const std::string& name, const std::string& dtype,
                       std::vector<std::int64_t> shape) {
    std::uint64_t bytes = dtype == "BF16" ? 2 : 1;
    for (auto d : shape) bytes *= std::uint64_t(d);
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  };
  const std::int64_t H = 2880, E = 128, I = 2880, V = 201088;
  add("model.embed_tokens.weight", "BF16", {V, H});
  add("model.norm.weight", "BF16", {H});
  add("lm_head.weight", "BF16", {V, H});
  for (int l = 0; l < 36; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", "BF16", {H});
    add(p + "post_attention_layernorm.weight", "BF16", {H});
    add(p + "self_attn.q_proj.weight", "BF16", {4096, H});
    add(p + "self_attn.q_proj.bias", "BF16", {4096});
    add(p + "self_attn.k_proj.weight", "BF16", {512, H});
    add(p + "self_attn.k_proj.bias", "BF16", {512});
    add(p + "self_attn.v_proj.weight", "BF16", {512, H});
    add(p + "self_attn.v_proj.bias", "BF16", {512});
    add(p + "self_attn.o_proj.weight", "BF16", {H, 4096});
    add(p + "self_attn.o_proj.bias", "BF16", {H});
    add(p + "self_attn.sinks", "BF16", {64});
    add(p + "mlp.router.weight", "BF16", {E, H});
    add(p + "mlp.router.bias", "BF16", {E});
    add(p + "mlp.experts.gate_up_proj_blocks", "U8", {E, 2 * I, H / 32, 16});
    add(p + "mlp.experts.gate_up_proj_scales", "U8", {E, 2 * I, H / 32});
    add(p + "mlp.experts.gate_up_proj_bias", "BF16", {E, 2 * I});
    add(p + "mlp.experts.down_proj_blocks", "U8", {E, H, I / 32, 16});
    add(p + "mlp.experts.down_proj_scales", "U8", {E, H, I / 32});
    add(p + "mlp.experts.down_proj_bias", "BF16", {E, H});
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  {
    std::ofstream f(dir / "model.safetensors", std::ios::binary);
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
    f << text;
  }
  // Sparse: the 60.8 GiB of zeros take no disk.
  fs::resize_file(dir / "model.safetensors", 8 + text.size() + offset);

  int status = 0;
  const std::string out = run_cli("info --model " + dir.string(), &status);
  fs::remove_all(dir);
  ASSERT_EQ(status, 0) << out;
  const auto info = nlohmann::json::parse(out);
  EXPECT_EQ(info.at("name"), "gpt-oss-120b");
  EXPECT_NEAR(info.at("total_params").get<double>(), 116.8e9, 0.02 * 116.8e9);
  EXPECT_NEAR(info.at("active_params").get<double>(), 5.1e9, 0.02 * 5.1e9);
  EXPECT_NEAR(info.at("weight_gib").get<double>(), 60.8, 0.02 * 60.8);
  EXPECT_EQ(info.at("expert_formats"), nlohmann::json({"MXFP4"}));
  EXPECT_TRUE(info.at("formats").contains("MXFP4"));
  EXPECT_TRUE(info.at("formats").contains("BF16"));
  EXPECT_FALSE(info.at("formats").contains("U8"));
}

}  // namespace
