// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/commands.hpp
/// The subcommands of `templlm`, one function each (argv[0] is the subcommand's name).
#pragma once

namespace templlm::cli {
int models_main(int argc, char** argv);
int info_main(int argc, char** argv);
int logits_main(int argc, char** argv);
int tokenize_main(int argc, char** argv);
int chat_main(int argc, char** argv);
int generate_main(int argc, char** argv);
int serve_main(int argc, char** argv);
}  // namespace templlm::cli
