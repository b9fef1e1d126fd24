// SPDX-License-Identifier: Apache-2.0
/// \file tests/support/cli.hpp
/// Running the built `templlm` binary (or another built program) from a test and capturing what
/// it prints, optionally feeding it text on stdin.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace templlm::test {

struct CliRun {
  int status;
  std::string out;
};

/// `<exe> <args>`; stderr is merged into `out` unless merge_stderr is false (then dropped).
/// With `input`, the program reads it on stdin (from a temporary file, so that a program that
/// reads until EOF sees EOF); without, stdin is inherited.
inline CliRun run_program(const std::string& exe, const std::string& args, bool merge_stderr = true,
                          const std::optional<std::string>& input = std::nullopt) {
  std::string in_path;
  if (input) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "templlm-test-stdin-XXXXXX").string();
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed for " + tmpl);
    in_path = tmpl;
    std::size_t done = 0;
    while (done < input->size()) {
      const ssize_t n = write(fd, input->data() + done, input->size() - done);
      if (n <= 0) break;
      done += std::size_t(n);
    }
    close(fd);
  }
  const std::string cmd = exe + " " + args + (in_path.empty() ? "" : " < '" + in_path + "'") +
                          (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  if (!in_path.empty()) std::filesystem::remove(in_path);
  return {WEXITSTATUS(status), out};
}

/// `templlm <args>`; stderr is merged into `out` unless merge_stderr is false (then dropped).
inline CliRun run_cli(const std::string& args, bool merge_stderr = true,
                      const std::optional<std::string>& input = std::nullopt) {
  return run_program(TEMPLLM_CLI, args, merge_stderr, input);
}

/// {1, 2, 3} -> "1,2,3", the CLI's --ids syntax.
inline std::string id_list(const std::vector<int>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

}  // namespace templlm::test
