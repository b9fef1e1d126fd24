# Where CCCL's package files (CUB, Thrust, libcu++; shipped with the CUDA toolkit) may lie, after
# find_package(CUDAToolkit). Two layouts are seen: nvcc on PATH from the toolkit's bin/ (then
# CUDAToolkit_LIBRARY_DIR holds cmake/cccl), and a wrapper nvcc in /usr/local/bin with libcudart
# linked into /usr/local/lib (then only the toolkit's own lib/ does).
set(TEMPLLM_CCCL_HINTS
  "${CUDAToolkit_LIBRARY_DIR}/cmake"
  "${CUDAToolkit_TARGET_DIR}/lib/cmake"
  "${CUDAToolkit_TARGET_DIR}/lib64/cmake"
  "${CUDAToolkit_BIN_DIR}/../lib/cmake"
  "${CUDAToolkit_BIN_DIR}/../lib64/cmake")
