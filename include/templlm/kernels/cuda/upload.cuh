// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/upload.cuh
/// Copying a host weight view (core/tensor.hpp) to the device in its stored form. Only the bytes
/// the view spans are copied (one expert of a fused tensor copies that expert); quantised
/// storage keeps its layout and scales; unquantised transposed or strided-row views are
/// compacted on the host into dense [out, in] rows of the same dtype, which the kernels then
/// read row by row. The device view keeps the logical shape, so `rows()` works on it as on the
/// host.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "device_buffer.cuh"

namespace templlm::gpu {

/// Copies w to the device; the allocations are appended to `store` (which owns them).
inline WeightView<Device> upload(const WeightView<Host>& w, std::deque<DeviceBuffer<std::byte>>& store) {
  WeightView<Device> d;
  d.dtype = w.dtype;
  d.shape = w.shape;
  d.rank = w.rank;
  d.quant = w.quant;
  d.ld = w.ld;
  d.row_base = w.row_base;
  d.row_step = w.row_step;
  d.transposed = w.transposed;
  d.scale_ld = w.scale_ld;
  d.block = w.block;
  const std::int64_t cols = w.cols(), rows = cols == 0 ? 0 : w.numel() / cols;
  if (w.empty() || rows == 0) return d;
  const std::int64_t stride = w.stride(), last = w.row_base + (rows - 1) * w.row_step;
  auto copy = [&](const std::byte* src, std::int64_t bytes) -> const std::byte* {
    auto& buf = store.emplace_back(static_cast<std::size_t>(bytes));
    cuda_check(cudaMemcpy(buf.data(), src, static_cast<std::size_t>(bytes), cudaMemcpyHostToDevice),
               "cudaMemcpy (upload)");
    return buf.data();
  };

  switch (w.quant) {
    case Quant::none: {
      const auto es = static_cast<std::int64_t>(dtype_size(w.dtype));
      if (!w.transposed && w.row_step == 1) {  // a span of rows: copy it as is
        const std::int64_t first = w.row_base * stride, end = last * stride + cols;
        d.data = copy(w.data + first * es, (end - first) * es);
        d.row_base = 0;
        return d;
      }
      std::vector<std::byte> dense(static_cast<std::size_t>(rows * cols * es));  // [rows, cols]
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t prow = w.row_base + r * w.row_step;
        for (std::int64_t c = 0; c < cols; ++c) {
          const std::int64_t i = w.transposed ? c * stride + prow : prow * stride + c;
          std::memcpy(dense.data() + (r * cols + c) * es, w.data + i * es, static_cast<std::size_t>(es));
        }
      }
      d.data = copy(dense.data(), std::int64_t(dense.size()));
      d.ld = 0;
      d.row_base = 0;
      d.row_step = 1;
      d.transposed = false;
      return d;
    }
    case Quant::fp8_block: {
      check(w.block > 0 && w.scales != nullptr && !w.transposed,
            "templlm: upload: FP8 block weights need scales and a block size, untransposed");
      const std::int64_t shift = w.row_base / w.block * w.block;  // keep rows aligned to blocks
      const std::int64_t first = shift * stride, end = last * stride + cols;
      d.data = copy(w.data + first, end - first);
      const std::int64_t s_first = (shift / w.block) * w.scale_ld;
      const std::int64_t s_end = (last / w.block) * w.scale_ld + (cols + w.block - 1) / w.block;
      d.scales = copy(w.scales + s_first * 4, (s_end - s_first) * 4);
      d.row_base = w.row_base - shift;
      return d;
    }
    case Quant::mxfp4: {
      check(w.scales != nullptr && !w.transposed && stride % 2 == 0,
            "templlm: upload: MXFP4 weights need scales and an even row length, untransposed");
      const std::int64_t first = w.row_base * (stride / 2), end = last * (stride / 2) + (cols + 1) / 2;
      d.data = copy(w.data + first, end - first);
      const std::int64_t s_first = w.row_base * w.scale_ld, s_end = last * w.scale_ld + (cols + 31) / 32;
      d.scales = copy(w.scales + s_first, s_end - s_first);
      d.row_base = 0;
      return d;
    }
  }
  throw Unsupported("templlm: upload: unknown weight storage");
}

}  // namespace templlm::gpu
