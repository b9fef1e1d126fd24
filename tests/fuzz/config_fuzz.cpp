// SPDX-License-Identifier: Apache-2.0
// Fuzz target: config.json (io/hf_config.hpp) against every compiled-in description: the
// matching fold of runtime/registry.hpp, each description's field check, and the context limit.
#include <templlm/model/all.hpp>
#include <templlm/runtime/registry.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace templlm;
  fuzz::refused_or_ok([&] {
    const io::HfConfig config = io::HfConfig::parse(fuzz::text(data, size), "fuzz/config.json");
    (void)config.architecture();
    for_each_type(model::LoadableModels{}, [&]<class M>() {
      fuzz::refused_or_ok([&] {
        const auto fields = M::hf_fields();
        (void)config.diff(fields);
        config.check(fields, M::name);
      });
    });
    runtime::with_matching_description(model::LoadableModels{}, config, "fuzz", [&]<class M>() {
      config.check(M::hf_fields(), M::name);
    });
  });
  return 0;
}
