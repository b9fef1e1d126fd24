// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/main.cpp
/// `templlm <command> ...`: dispatches to the subcommands. Errors go to stderr with exit code 1
/// (usage errors: 2).
#include <cstring>
#include <exception>
#include <iostream>
#include <string_view>

#include "args.hpp"
#include "commands.hpp"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command commands[] = {
    {"models", templlm::cli::models_main, "list the compiled-in model descriptions (JSON)"},
    {"info", templlm::cli::info_main, "describe a checkpoint directory: model, params, dtypes"},
    {"logits", templlm::cli::logits_main, "score token ids, write float32 logits to .npy"},
    {"tokenize", templlm::cli::tokenize_main, "encode JSON strings to ids (or --decode)"},
    {"chat", templlm::cli::chat_main, "render a conversation in a family's chat format"},
    {"generate", templlm::cli::generate_main, "continue a prompt (default: the embedded demo model)"},
    {"serve", templlm::cli::serve_main, "OpenAI/Anthropic-compatible HTTP server (demo model by default)"},
};

int usage(std::ostream& out) {
  out << "usage: templlm <command> [options]   (templlm <command> --help for details)\n\n";
  for (const auto& c : commands) out << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
  return &out == &std::cout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(std::cerr);
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return usage(std::cout);
  for (const auto& c : commands) {
    if (name != c.name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const templlm::cli::UsageError& e) {
      std::cerr << "templlm " << name << ": " << e.what() << " (see templlm " << name << " --help)\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "templlm " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "templlm: unknown command '" << name << "'\n";
  return usage(std::cerr);
}
