// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/io/safetensors_writer.hpp
/// Test helpers: build safetensors bytes from (name, dtype, shape, bytes) lists, or from a raw
/// header string for malformed cases, and a self-deleting temporary directory to write them to.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace templlm::test {

using Bytes = std::vector<std::byte>;

/// One tensor to write. `dtype` is a string so tests can write unknown dtypes.
struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  Bytes data;
};

/// `n` bytes counting up from `seed`, so spans can be checked byte for byte.
inline Bytes pattern(std::size_t n, unsigned seed = 0) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((seed + i * 7) & 0xff);
  return out;
}

inline Bytes to_bytes(std::string_view s) {
  Bytes out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

/// The 8-byte little-endian length prefix, then `header`, then `data`; `length` overrides the
/// prefix (for lying-length cases).
inline Bytes raw_safetensors(std::string_view header, std::span<const std::byte> data = {},
                             std::uint64_t length = ~std::uint64_t{0}) {
  const std::uint64_t n = length == ~std::uint64_t{0} ? header.size() : length;
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((n >> (8 * i)) & 0xff));
  const Bytes h = to_bytes(header);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

/// The header JSON for `tensors` laid out back to back in list order, padded with spaces to a
/// multiple of 8 as the reference writer does.
inline std::string header_for(const std::vector<StTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::uint64_t at = 0;
  for (const StTensor& t : tensors) {
    h[t.name] = {{"dtype", t.dtype},
                 {"shape", t.shape},
                 {"data_offsets", {at, at + t.data.size()}}};
    at += t.data.size();
  }
  std::string s = h.dump();
  s.append((8 - (8 + s.size()) % 8) % 8, ' ');
  return s;
}

/// A complete, valid safetensors file for `tensors`.
inline Bytes build_safetensors(const std::vector<StTensor>& tensors,
                               const std::map<std::string, std::string>& metadata = {}) {
  Bytes data;
  for (const StTensor& t : tensors) data.insert(data.end(), t.data.begin(), t.data.end());
  return raw_safetensors(header_for(tensors, metadata), data);
}

inline void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline void write_text(const std::filesystem::path& path, std::string_view text) {
  write_file(path, to_bytes(text));
}

/// A fresh directory under the system temp directory, removed with its content on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("templlm_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace templlm::test
