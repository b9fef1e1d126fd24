// A consumer of the installed headers: reads compile-time facts of a description and runs one
// backend op.
#include <cstdio>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/all.hpp>

int main() {
  constexpr auto counts = templlm::model::param_count<templlm::model::Mixtral8x7B>();
  static_assert(counts.total > 46'000'000'000);
  templlm::cpu::Backend be(1);
  float x[2] = {3.0f, 4.0f}, y[2];
  be.rms_norm(templlm::MatrixView<float>(y, 1, 2), templlm::MatrixView<const float>(x, 1, 2),
              {}, 0.0f);
  std::printf("mixtral-8x7b: %lld params; rms_norm(3,4) = (%g, %g)\n",
              static_cast<long long>(counts.total), y[0], y[1]);
  return (y[0] > 0.84f && y[0] < 0.86f) ? 0 : 1;
}
