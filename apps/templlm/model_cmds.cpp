// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/model_cmds.cpp
/// `templlm models`, `templlm info`, `templlm logits`.
#include <charconv>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>
#include <templlm/io/npy.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/all.hpp>
#include <templlm/runtime/registry.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "generate_support.hpp"
#include "numbers.hpp"

namespace templlm::cli {
namespace {

/// Everything this binary can load: the real descriptions, the dense sizes and the tiny twins.
using Compiled = model::LoadableModels;


}  // namespace

int models_main(int argc, char** argv) {
  Args args(argc, argv, {"help"}, {});
  if (args.has("help")) {
    std::cout << "usage: templlm models\n\nPrints a JSON array of the compiled-in descriptions: "
                 "name, hf_architecture, total_params, active_params, runnable.\n";
    return 0;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : runtime::describe_all(Compiled{}))
    out.push_back({{"name", d.name},
                   {"hf_architecture", d.hf_architecture},
                   {"total_params", d.params.total},
                   {"active_params", d.params.active},
                   {"runnable", d.runnable}});
  std::cout << out.dump(2) << "\n";
  return 0;
}

int info_main(int argc, char** argv) {
  Args args(argc, argv, {"help"}, {"model"});
  if (args.has("help")) {
    std::cout << "usage: templlm info --model DIR\n\nDetects the description matching DIR's "
                 "config.json and prints it with parameter counts and tensor bytes by dtype.\n";
    return 0;
  }
  const std::filesystem::path dir = args.require("model");
  const auto config = io::HfConfig::load(dir);
  nlohmann::json out;
  runtime::with_matching_description(Compiled{}, config, dir.string(), [&]<class M>() {
    const auto d = runtime::describe<M>();
    out["name"] = d.name;
    out["hf_architecture"] = d.hf_architecture;
    out["total_params"] = d.params.total;
    out["active_params"] = d.params.active;
    out["runnable"] = d.runnable;
    // KV cache per token over all layers at full context, from each attention policy's cache
    // widths (MLA: the latent + rope key; GQA: K and V).
    if constexpr (layers::runnable<M>) {
      using A = layers::Attention<M, cpu::Backend>;
      const std::int64_t floats = std::int64_t(M::dims.layers) * (A::cache_k_width + A::cache_v_width);
      out["kv_cache_values_per_token"] = floats;
      out["kv_cache_bytes_per_token_bf16"] = floats * 2;
      out["kv_cache_bytes_per_token_f32"] = floats * 4;
    }
  });
  const auto store = io::WeightStore::open(dir);
  std::uint64_t total = 0;
  for (const auto& [dtype, bytes] : store.bytes_by_dtype()) {
    out["bytes_by_dtype"][std::string(dtype_name(dtype))] = bytes;
    total += bytes;
  }
  out["weight_bytes"] = total;
  out["weight_gib"] = double(total) / double(1ull << 30);
  out["tensors"] = store.names().size();
  out["cpu_isa"] = cpu::isa_description();  // the instruction sets the CPU kernels were built for
  // Storage formats: U8 "<name>_blocks" with a U8 "<name>_scales" sibling is MXFP4 (GPT-OSS's
  // experts, used compressed through WeightViews into the mmap); "expert_formats" lists the
  // formats of the tensors under an ".experts." block.
  {
    std::map<std::string, std::uint64_t> formats;
    std::set<std::string> expert_formats;
    for (const auto& name : store.names()) {
      const auto& t = store.get(name);
      std::string format(dtype_name(t.dtype));
      const auto ends_with = [&](std::string_view s) {
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
      };
      const std::string stem = name.substr(0, name.rfind('_'));
      if (t.dtype == DType::u8 && ((ends_with("_blocks") && store.find(stem + "_scales")) ||
                                   (ends_with("_scales") && store.find(stem + "_blocks"))))
        format = "MXFP4";
      formats[format] += t.bytes.size();
      if (name.find(".experts.") != std::string::npos && !ends_with("_bias") &&
          !ends_with(".bias"))
        expert_formats.insert(format);
    }
    for (const auto& [format, bytes] : formats) out["formats"][format] = bytes;
    if (!expert_formats.empty())
      out["expert_formats"] = std::vector<std::string>(expert_formats.begin(), expert_formats.end());
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int logits_main(int argc, char** argv) {
  Args args(argc, argv, {"help", "decode"}, {"model", "ids", "out", "threads"});
  if (args.has("help")) {
    std::cout << "usage: templlm logits --model DIR --ids 1,2,3 --out FILE.npy [--decode] "
                 "[--threads N]\n\nWrites float32 logits [T, vocab], one row per position. "
                 "--decode feeds the tokens one at a time through the KV cache instead of one "
                 "prefill.\n";
    return 0;
  }
  const std::filesystem::path dir = args.require("model");
  const auto ids = parse_id_list(args.require("ids"));
  const std::string out = args.require("out");
  cpu::Backend be(int_flag<unsigned>(args, "threads", 0, 0, 1024, "0 to 1024; 0 = all cores"));
  auto model = load_any_model(be, dir, false);  // generate's loader: the models compile once
  const auto logits = model->score(ids, args.has("decode"));
  io::write_npy_f32(out, logits.data(), std::int64_t(ids.size()), model->vocab());
  std::cerr << "templlm: " << model->name() << ": wrote [" << ids.size() << ", " << model->vocab()
            << "] logits to " << out << "\n";
  return 0;
}

}  // namespace templlm::cli
