// SPDX-License-Identifier: Apache-2.0
/// \file tests/fuzz/fuzz_support.hpp
/// What every fuzz target shares: a bad input must end in a templlm typed error (core/error.hpp)
/// or succeed. Any other exception escapes and aborts (libFuzzer reports it with the input), as
/// does a sanitizer report, a hang past -timeout or an allocation past -rss_limit_mb.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <string_view>
#include <unistd.h>

#include <templlm/core/error.hpp>

namespace templlm::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}
inline std::span<const std::byte> bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

/// Runs f; a templlm::Error is an accepted outcome (the input was refused with a sentence).
template <class F>
void refused_or_ok(F&& f) {
  try {
    f();
  } catch (const templlm::Error&) {
  }
}

/// A property the target checks on inputs that were accepted; a violation aborts with a message.
inline void require(bool ok, std::string_view what) {
  if (ok) return;
  std::cerr << "templlm fuzz: property violated: " << what << "\n";
  std::abort();
}

/// A scratch directory of this process for targets that need files on disk (index, shards).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("templlm-fuzz-" + std::to_string(static_cast<long>(::getpid())));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), std::streamsize(content.size()));
}

/// TEMPLLM_FUZZ_DATA (set by CMake): tests/data, for targets that load the real tokenizers.
inline std::filesystem::path data_dir() { return TEMPLLM_FUZZ_DATA; }

}  // namespace templlm::fuzz
