// SPDX-License-Identifier: Apache-2.0
/// \file tests/support/cli.hpp
/// Running the built `templlm` binary from a test and capturing what it prints.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace templlm::test {

struct CliRun {
  int status;
  std::string out;
};

/// `templlm <args>`; stderr is merged into `out` unless merge_stderr is false (then dropped).
inline CliRun run_cli(const std::string& args, bool merge_stderr = true) {
  const std::string cmd =
      std::string(TEMPLLM_CLI) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

/// {1, 2, 3} -> "1,2,3", the CLI's --ids syntax.
inline std::string id_list(const std::vector<int>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

}  // namespace templlm::test
