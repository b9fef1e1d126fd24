// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/generate_cmd.cpp
/// `templlm generate`: text (or ids) in, a streamed continuation out. Without --model it uses the
/// embedded demo model (models/demo, found next to the executable's install prefix or in the
/// source tree via TEMPLLM_DEFAULT_MODEL_DIR).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <limits>
#include <templlm/io/hf_config.hpp>
#include <templlm/io/image.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/all.hpp>
#include <templlm/runtime/generator.hpp>
#include <templlm/runtime/registry.hpp>
#include <templlm/tokenizer/tokenizer.hpp>
#include <unistd.h>

#include "args.hpp"
#include "commands.hpp"
#include "generate_support.hpp"
#include "numbers.hpp"

namespace templlm::cli {
namespace {

using Loadable = model::LoadableModels;

constexpr const char* generate_help =
    R"(usage: templlm generate [--model DIR] [--prompt TEXT | --prompt-file F | --ids 1,2,3] [options]

Continues a prompt and streams the text to stdout; a one-line summary goes to stderr.
  --model DIR        checkpoint directory (config.json, *.safetensors, tokenizer.json);
                     default: the embedded demo model
  --prompt TEXT      the prompt (default: "And God said")
  --prompt-file F    read the prompt from a file
  --ids 1,2,3        token ids instead of text (models without tokenizer.json); prints ids
  --max-tokens N     tokens to generate (default 64)
  --temperature T    0 = greedy (default 0.8)
  --top-p P          nucleus sampling (default 0.95; 1 = off)
  --top-k K          keep the K most likely tokens (default 0 = off)
  --min-p P          drop tokens below P x the top probability (default 0 = off)
  --repetition-penalty R, --presence-penalty P, --frequency-penalty F
  --seed S           sampling seed (default 0): same seed, same output
  --stop STR         stop before this text (may be given once; not printed)
  --image F          a PNG or JPEG for a model that sees images (Llama 4; repeatable): put
                     <|image|> in the prompt where each goes, or they go first, in order
  --max-context N    tokens the sequence may hold (default prompt + max tokens, at most the
                     model's max_position_embeddings); cache pages are allocated only as
                     tokens arrive (--context N: the same)
  --backend B        cpu (default) or cuda (builds with CUDA, on a machine with a GPU)
  --threads N        CPU threads (default: all cores; --backend cpu)
  --precision P      fp32 (default: exact) or bf16 (tensor-core projections above 8 rows,
                     bf16 inputs with fp32 accumulate; --backend cuda)
  --quiet            no progress bar or summary
  --help             this text
)";

}  // namespace

SamplingFlags parse_sampling_flags(const Args& args, float default_temperature, float default_top_p) {
  constexpr int int_max = std::numeric_limits<int>::max();
  constexpr double inf = std::numeric_limits<double>::infinity();
  SamplingFlags f;
  f.max_tokens = int_flag<int>(args, "max-tokens", 64, 0, int_max, "0 to 2147483647");
  auto& s = f.sampling;
  s.temperature = float_flag(args, "temperature", default_temperature, 0, inf, "a number >= 0; 0 = greedy");
  s.top_p = float_flag(args, "top-p", default_top_p, 0, 1, "a number in (0, 1]; 1 = off", true);
  s.top_k = int_flag<int>(args, "top-k", 0, 0, int_max, "0 to 2147483647; 0 = off");
  s.min_p = float_flag(args, "min-p", 0.0f, 0, 1, "a number in [0, 1]; 0 = off");
  s.repetition_penalty =
      float_flag(args, "repetition-penalty", 1.0f, 0, inf, "a number > 0; 1 = off", true);
  s.presence_penalty = float_flag(args, "presence-penalty", 0.0f, -inf, inf, "a finite number; 0 = off");
  s.frequency_penalty = float_flag(args, "frequency-penalty", 0.0f, -inf, inf, "a finite number; 0 = off");
  s.seed = int_flag<std::uint64_t>(args, "seed", 0, 0, std::numeric_limits<std::uint64_t>::max(),
                                   "0 to 18446744073709551615");
  if (args.has("context") && args.has("max-context")) throw UsageError("give one of --context, --max-context");
  f.context = int_flag<std::int64_t>(args, args.has("context") ? "context" : "max-context", 0, 1, int_max,
                                     "1 to 2147483647 tokens");
  f.threads = int_flag<unsigned>(args, "threads", 0, 0, 1024, "0 to 1024; 0 = all cores");
  return f;
}

std::int64_t model_context_limit(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(dir / "config.json", ec)) return 0;
  return io::HfConfig::load(dir).context_limit();
}

/// The embedded demo model's directory: $TEMPLLM_DEMO_MODEL, then <exe>/../share/templlm/models/demo
/// (installed), then the source tree's models/demo (TEMPLLM_DEFAULT_MODEL_DIR).
std::filesystem::path default_model_dir() {
  if (const char* env = std::getenv("TEMPLLM_DEMO_MODEL")) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "templlm" / "models" / "demo";
    if (std::filesystem::exists(installed / "config.json")) return installed;
  }
#ifdef TEMPLLM_DEFAULT_MODEL_DIR
  if (std::filesystem::exists(std::filesystem::path(TEMPLLM_DEFAULT_MODEL_DIR) / "config.json"))
    return TEMPLLM_DEFAULT_MODEL_DIR;
#endif
  throw IoError("templlm: no --model given and the embedded demo model was not found (looked in "
                "$TEMPLLM_DEMO_MODEL, <prefix>/share/templlm/models/demo and the source tree)");
}

/// A progress bar on stderr while weights map in: bytes, percent and seconds.
std::function<void(std::uint64_t, std::uint64_t)> load_progress(bool enabled) {
  if (!enabled) return {};
  const auto t0 = std::chrono::steady_clock::now();
  const bool tty = isatty(2) != 0;
  return [t0, tty, last = -1](std::uint64_t done, std::uint64_t total) mutable {
    const int pct = total ? int(100.0 * double(done) / double(total)) : 100;
    if (pct == last || (!tty && pct != 100)) return;
    last = pct;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int width = 30, fill = pct * width / 100;
    std::fprintf(stderr, "\rloading weights [%s%s] %3d%%  %.1f / %.1f MB  %.1fs%s",
                 std::string(std::size_t(fill), '#').c_str(), std::string(std::size_t(width - fill), ' ').c_str(),
                 pct, double(done) / 1e6, double(total) / 1e6, s, pct == 100 ? "\n" : "");
  };
}

std::unique_ptr<runtime::AnyModel> load_any_model(cpu::Backend& be, const std::filesystem::path& dir,
                                                  bool progress) {
  return runtime::load_model(Loadable{}, be, dir, load_progress(progress));
}

#ifndef TEMPLLM_CLI_CUDA
std::unique_ptr<runtime::AnyModel> load_any_model_cuda(const std::filesystem::path&, bool, CudaPrecision) {
  throw Unsupported("templlm: --backend cuda: this templlm was built without the CUDA backend "
                    "(configure with -DTEMPLLM_ENABLE_CUDA=ON and a CUDA toolkit); use --backend cpu");
}
#endif

int generate_main(int argc, char** argv) {
  Args args(argc, argv, {"help", "quiet"},
            {"model", "prompt", "prompt-file", "ids", "max-tokens", "temperature", "top-p", "top-k",
             "min-p", "repetition-penalty", "presence-penalty", "frequency-penalty", "seed", "stop",
             "context", "max-context", "backend", "threads", "precision", "image"});
  if (args.has("help")) {
    std::cout << generate_help;
    return 0;
  }
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::string backend = args.get("backend").value_or("cpu");
  if (backend != "cpu" && backend != "cuda")
    throw UsageError("--backend: '" + backend + "' is not a backend (cpu, cuda)");
  const std::string precision = args.get("precision").value_or("fp32");
  if (precision != "fp32" && precision != "bf16")
    throw UsageError("--precision: '" + precision + "' is not a precision (fp32, bf16)");
  if (args.has("precision") && backend != "cuda")
    throw UsageError("--precision applies to --backend cuda only (the CPU backend computes in fp32)");
  const int sources = int(args.has("prompt")) + int(args.has("prompt-file")) + int(args.has("ids"));
  if (sources > 1) throw UsageError("give one of --prompt, --prompt-file, --ids");
  const bool quiet = args.has("quiet");

  const SamplingFlags flags = parse_sampling_flags(args, 0.8f, 0.95f);
  runtime::GenerateOptions o;
  o.max_tokens = flags.max_tokens;
  o.sampling = flags.sampling;
  o.max_context = flags.context;
  try {
    o.sampling.validate();
  } catch (const InvalidInput& e) {
    throw UsageError(e.what());
  }

  const std::filesystem::path dir = args.get("model") ? std::filesystem::path(*args.get("model")) : default_model_dir();
  // The context the model was trained for: a longer prompt (or --context) is refused with the
  // numbers before a KV cache is allocated.
  o.context_limit = model_context_limit(dir);
  if (o.context_limit > 0 && o.max_context > o.context_limit)
    throw UsageError(std::string(args.has("context") ? "--context: " : "--max-context: ") +
                     std::to_string(o.max_context) + " exceeds the model's context of " +
                     std::to_string(o.context_limit) + " tokens (max_position_embeddings in " +
                     (dir / "config.json").string() + ")");
  const unsigned threads = flags.threads;
  std::optional<cpu::Backend> cpu_be;  // declared before the model, which uses it
  const auto t_load = std::chrono::steady_clock::now();
  std::unique_ptr<runtime::AnyModel> model;
  if (backend == "cuda") {
    model = load_any_model_cuda(dir, !quiet, precision == "bf16" ? CudaPrecision::bf16 : CudaPrecision::fp32);
  } else {
    cpu_be.emplace(threads);
    model = load_any_model(*cpu_be, dir, !quiet);
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  std::optional<tokenizer::Tokenizer> tok;
  if (std::filesystem::exists(dir / "tokenizer.json")) tok = tokenizer::Tokenizer::from_folder(dir);

  std::vector<int> prompt;
  if (args.has("ids")) {
    prompt = parse_id_list(*args.get("ids"));
  } else {
    if (!tok)
      throw InvalidInput("templlm: " + dir.string() +
                         " has no tokenizer.json; give the prompt as token ids with --ids 1,2,3");
    std::string text = "And God said";
    if (auto p = args.get("prompt")) text = *p;
    if (auto f = args.get("prompt-file")) {
      std::ifstream in(*f, std::ios::binary);
      if (!in) throw IoError("templlm: cannot read --prompt-file " + *f);
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    const auto enc = tok->encode(text, true);
    prompt.assign(enc.begin(), enc.end());
    if (prompt.empty()) throw UsageError("the prompt is empty");
  }
  const std::vector<std::string> image_files = args.all("image");
  std::optional<vision::ImagePrompt> image_prompt;
  if (!image_files.empty()) {
    if (args.has("ids") || !tok) throw UsageError("--image needs a text prompt and a model with tokenizer.json");
    std::vector<io::Image> images;
    for (const auto& f : image_files) images.push_back(io::load_image(f));
    const auto placeholder = tok->token_to_id("<|image|>");
    if (placeholder && std::find(prompt.begin(), prompt.end(), int(*placeholder)) == prompt.end()) {
      // No placeholder in the prompt: the images go first (after the beginning-of-text token).
      const auto at = prompt.begin() + (tok->bos_id() && !prompt.empty() && prompt[0] == int(*tok->bos_id()) ? 1 : 0);
      prompt.insert(at, images.size(), int(*placeholder));
    }
    image_prompt = model->image_prompt(prompt, images, *tok);  // a model without a vision tower says so
    prompt = image_prompt->ids;
  }
  if (auto s = args.get("stop")) {
    if (!tok) throw UsageError("--stop needs a model with tokenizer.json");
    o.stop_strings.push_back(*s);
  }

  const bool as_ids = args.has("ids") || !tok;
  bool first = true;
  runtime::StreamCallback cb = [&](int id, std::string_view piece) {
    if (as_ids) {
      std::cout << (first ? "" : ",") << id << std::flush;
      first = false;
    } else {
      std::cout << piece << std::flush;
    }
    return true;
  };
  if (!as_ids) std::cout << tok->decode(std::vector<std::uint32_t>(prompt.begin(), prompt.end()), true);
  runtime::Engine engine(*model, as_ids ? nullptr : &*tok);
  if (as_ids && tok)
    if (auto e = tok->eos_id()) o.stop_ids.push_back(int(*e));
  const int h = image_prompt ? engine.add_with_images(std::move(*image_prompt), o, cb) : engine.add(prompt, o, cb);
  engine.run();
  std::cout << "\n" << std::flush;
  const auto& r = engine.result(h);
  if (!quiet) {
    const auto gen = std::int64_t(r.tokens.size());
    std::fprintf(stderr,
                 "templlm: %s: load %.2fs | prompt %lld tokens, %.1f tok/s | generated %lld tokens, "
                 "%.1f tok/s | stop: %s\n",
                 std::string(model->name()).c_str(), load_s, static_cast<long long>(r.prompt_tokens),
                 r.prefill_seconds > 0 ? double(r.prompt_tokens) / r.prefill_seconds : 0.0,
                 static_cast<long long>(gen),
                 r.decode_seconds > 0 ? double(std::max<std::int64_t>(gen - 1, 0)) / r.decode_seconds : 0.0,
                 std::string(runtime::stop_reason_name(r.stop)).c_str());
    // Pages are allocated as the sequence grows, whatever --max-context says.
    const runtime::KvUsage kv = model->kv_usage();
    std::fprintf(stderr, "templlm: kv cache: %lld pages of %lld positions in use, %.1f KiB allocated\n",
                 static_cast<long long>(kv.pages_in_use), static_cast<long long>(kv.page_size),
                 double(kv.bytes_allocated) / 1024.0);
  }
  return 0;
}

}  // namespace templlm::cli
