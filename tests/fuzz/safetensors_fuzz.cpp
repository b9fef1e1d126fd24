// SPDX-License-Identifier: Apache-2.0
// Fuzz target: a whole safetensors file from memory (io/safetensors.hpp parse_safetensors). An
// accepted file's tensors lie inside the buffer with exactly numel * dtype size bytes; touching
// their first and last byte makes AddressSanitizer catch a span that reaches past the input.
#include <templlm/io/safetensors.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm;
  const auto buf = fuzz::bytes(data, size);
  fuzz::refused_or_ok([&] {
    const io::SafetensorsContents c = io::parse_safetensors(buf, "fuzz.safetensors");
    volatile std::byte sink{};
    for (const io::TensorInfo& t : c.tensors) {
      fuzz::require(std::uint64_t(t.numel()) * dtype_size(t.dtype) == t.bytes.size(),
                    "a tensor's byte count is numel * dtype size");
      if (t.bytes.empty()) continue;
      fuzz::require(t.bytes.data() >= buf.data() && t.bytes.data() + t.bytes.size() <= buf.data() + buf.size(),
                    "a tensor's bytes lie inside the file");
      sink = t.bytes.front();
      sink = t.bytes.back();
    }
    (void)sink;
  });
  return 0;
}
