// SPDX-License-Identifier: Apache-2.0
/// \file core/macros.hpp
/// The only macros of the library: host/device annotations, so per-element math compiles
/// under g++ and nvcc alike.
#pragma once

#if defined(__CUDACC__)
#define TEMPLLM_HOST_DEVICE __host__ __device__
#else
#define TEMPLLM_HOST_DEVICE
#endif
