// SPDX-License-Identifier: Apache-2.0
// The main() of templlm_add_model_executable: a generation CLI for ONE description, TEMPLLM_MODEL
// (a compile definition naming the type). Only that description's templates are instantiated.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <cstdlib>
#include <iostream>
#include <string>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/all.hpp>
#include <templlm/runtime/generator.hpp>
#include <templlm/runtime/registry.hpp>
#include <templlm/tokenizer/tokenizer.hpp>
#ifdef TEMPLLM_MODEL_HEADER  // a description outside the library (HEADER of the CMake function)
#include TEMPLLM_MODEL_HEADER
#endif

#ifndef TEMPLLM_MODEL
#error "templlm: compile with -DTEMPLLM_MODEL=<description type> (templlm_add_model_executable does)"
#endif

namespace {
constexpr const char* usage =
    "usage: %s --model DIR [--prompt TEXT | --ids 1,2,3] [--max-tokens N] [--temperature T]\n"
    "          [--top-p P] [--seed S] [--threads N]\n"
    "A generation CLI built for one model description: " TEMPLLM_MODEL_TYPE_NAME "\n";

std::vector<int> parse_ids(const std::string& s) {
  std::vector<int> out;
  std::size_t i = 0;
  while (i <= s.size()) {
    const std::size_t e = std::min(s.find(',', i), s.size());
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + e, v);
    if (ec != std::errc() || p != s.data() + e || i == e) throw std::invalid_argument("bad --ids: " + s);
    out.push_back(v);
    i = e + 1;
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace templlm;
  std::string dir, prompt = "Hello", ids_text;
  runtime::GenerateOptions o;
  o.max_tokens = 64;
  o.sampling.temperature = 0.8f;
  o.sampling.top_p = 0.95f;
  unsigned threads = 0;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        std::printf(usage, argv[0]);
        return 0;
      } else if (a == "--model") dir = next();
      else if (a == "--prompt") prompt = next();
      else if (a == "--ids") ids_text = next();
      else if (a == "--max-tokens") o.max_tokens = std::stoi(next());
      else if (a == "--temperature") o.sampling.temperature = std::stof(next());
      else if (a == "--top-p") o.sampling.top_p = std::stof(next());
      else if (a == "--seed") o.sampling.seed = std::stoull(next());
      else if (a == "--threads") threads = unsigned(std::stoul(next()));
      else throw std::invalid_argument("unknown argument " + a);
    }
    if (dir.empty()) throw std::invalid_argument("--model DIR is required");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    std::fprintf(stderr, usage, argv[0]);
    return 2;
  }
  try {
    cpu::Backend be(threads);
    auto model = runtime::load_model(TypeList<TEMPLLM_MODEL>{}, be, dir);
    const bool has_tok = ids_text.empty() && std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json");
    std::optional<tokenizer::Tokenizer> tok;
    std::vector<int> input;
    if (has_tok) {
      tok = tokenizer::Tokenizer::from_folder(dir);
      const auto enc = tok->encode(prompt, true);
      input.assign(enc.begin(), enc.end());
      std::cout << prompt;
    } else {
      if (ids_text.empty()) throw InvalidInput("templlm: " + dir + " has no tokenizer.json; use --ids");
      input = parse_ids(ids_text);
    }
    bool first = true;
    const auto r = runtime::generate(*model, input, o, [&](int id, std::string_view piece) {
      if (tok) std::cout << piece;
      else std::cout << (first ? "" : ",") << id;
      first = false;
      std::cout.flush();
      return true;
    }, tok ? &*tok : nullptr);
    std::cout << "\n";
    std::fprintf(stderr, "%s: %zu tokens, stop: %s\n", std::string(model->name()).c_str(), r.tokens.size(),
                 std::string(runtime::stop_reason_name(r.stop)).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
