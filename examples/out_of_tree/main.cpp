// SPDX-License-Identifier: Apache-2.0
// A new mechanism in a user's own project: Qwen2-MoE's gated shared expert (gated_shared_expert.hpp)
// and a description using it (qwen2_moe.hpp), run by the library unchanged and checked against
// the transformers reference of the qwen2-moe-tiny fixture: prefill and token-by-token decode
// logits within 1e-4 relative, the same experts. Usage: out_of_tree_qwen2_moe <fixture dir>.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qwen2_moe.hpp"

namespace {

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return nlohmann::json::parse(in);
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace templlm;
  using M = my::Qwen2MoeTiny;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <qwen2-moe-tiny fixture dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  io::HfConfig::load(dir).check(M::hf_fields(), M::name);  // the checkpoint is this description
  // The description's parameter count (ours and the library's components, through ADL) is every
  // weight in the checkpoint.
  std::int64_t in_checkpoint = 0;
  {
    const auto store = io::WeightStore::open(dir);
    for (const auto& name : store.names()) in_checkpoint += store.get(name).numel();
  }
  constexpr std::int64_t counted = model::param_count<M>().total;
  if (counted != in_checkpoint) {
    std::fprintf(stderr, "param_count<%s>() = %lld, the checkpoint holds %lld weights\n", M::name.data(),
                 static_cast<long long>(counted), static_cast<long long>(in_checkpoint));
    return 1;
  }
  cpu::Backend be(2);
  runtime::Model<M, cpu::Backend> model(be, io::WeightStore::open(dir));

  const auto ids = read_json(dir / "expected" / "ids.json").get<std::vector<int>>();
  const auto want = io::read_npy_f32(dir / "expected" / "prefill_logits.npy").data;
  const auto experts = read_json(dir / "expected" / "experts.json").get<std::vector<std::vector<std::vector<int>>>>();
  layers::ExpertTrace trace;
  const double prefill = relative_error(model.score(ids, false, &trace), want);
  const double decode = relative_error(model.score(ids, true), want);
  int expert_mismatches = 0;
  for (std::size_t l = 0; l < experts.size(); ++l)
    for (std::size_t p = 0; p < experts[l].size(); ++p) {
      auto got = trace.layers.at(l).at(p), ref = experts[l][p];
      std::sort(got.begin(), got.end());
      std::sort(ref.begin(), ref.end());
      expert_mismatches += got != ref;
    }
  std::printf("%s: %lld parameters, as in the checkpoint\n", M::name.data(), static_cast<long long>(counted));
  std::printf("%s: prefill %.3g, decode %.3g relative to transformers; %d expert mismatches\n",
              M::name.data(), prefill, decode, expert_mismatches);
  return prefill <= 1e-4 && decode <= 1e-4 && expert_mismatches == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
