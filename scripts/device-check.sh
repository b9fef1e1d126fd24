#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the CUDA tests and the decode benchmark for the GPU in this machine, runs them, and
# prints one short table: GPU, build time, tests passed/failed/skipped, benchmark lines.
# Must finish in under 8 minutes on an H100 (16 cores).
#
#   scripts/device-check.sh --bundle   on a development machine: packs Eigen, nlohmann_json and
#                                      GoogleTest's sources into build-device-deps/deps.tar.xz
#                                      (about 1 MB; git-ignored by build-*/), for GPU machines that
#                                      lack them (the lent ones do: they have CUDA, CMake and ninja)
#   scripts/device-check.sh            on the GPU machine; with the device tool:
#                                      run(command="scripts/device-check.sh", carry=["build-device-deps"])
#
# Environment: TEMPLLM_CUDA_ARCH (default 90a), TEMPLLM_DEVICE_BUILD (build dir, default
# /tmp/templlm-device-check), OUT (where the logs go; the device tool sets it).
# Exit status: 0 when everything built and no test failed (skipped tests do not fail it).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=$root/build-device-deps

if [[ "${1:-}" == "--bundle" ]]; then
  # About 1 MB compressed: the device tool carries at most 64 MiB with the working tree.
  set -e
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/eigen3" "$stage/include"
  eigen=$(pkg-config --variable=includedir eigen3 2>/dev/null || true)/eigen3
  [[ -d "$eigen/Eigen" ]] || eigen=/usr/include/eigen3
  cp -r "$eigen/Eigen" "$stage/eigen3/Eigen"
  cp -r /usr/include/nlohmann "$stage/include/nlohmann"
  for g in /usr/src/googletest/googletest /usr/src/gtest; do
    if [[ -f "$g/CMakeLists.txt" && -d "$g/src" ]]; then cp -r "$g" "$stage/googletest"; break; fi
  done
  [[ -d "$stage/googletest" ]] || { echo "device-check: no GoogleTest sources under /usr/src" >&2; exit 1; }
  rm -rf "$stage/googletest/docs" "$stage/googletest/samples" "$stage/googletest/test"
  rm -rf "$deps" && mkdir -p "$deps"
  tar -C "$stage" -cJf "$deps/deps.tar.xz" .
  echo "device-check: wrote $deps/deps.tar.xz ($(du -h "$deps/deps.tar.xz" | cut -f1)); carry build-device-deps"
  exit 0
fi

build=${TEMPLLM_DEVICE_BUILD:-/tmp/templlm-device-check}
arch=${TEMPLLM_CUDA_ARCH:-90a}
logs=${OUT:-$build/logs}
mkdir -p "$build" "$logs"
jobs=$(nproc 2>/dev/null || echo 4)
t_start=$(date +%s)

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
[[ -n "$gpu" ]] || gpu="none (nvidia-smi found no GPU)"

# CMake >= 3.26 (it must know nvcc 13's C++20 dialect).
cmake_ok() {
  local v
  v=$(cmake --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+' | head -1) || return 1
  [[ -n "$v" ]] && awk -v v="$v" 'BEGIN { split(v, a, "."); exit !(a[1] > 3 || (a[1] == 3 && a[2] >= 26)) }'
}
if ! cmake_ok; then
  python3 -m pip install --quiet --target /tmp/device-check-cmake cmake >"$logs/pip.log" 2>&1 &&
    export PATH=/tmp/device-check-cmake/bin:$PATH
  cmake_ok || { echo "device-check: needs CMake >= 3.26 (pip install cmake failed, see $logs/pip.log)"; exit 2; }
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# The bundle, when carried, is unpacked into the build directory; system packages win unless
# TEMPLLM_USE_BUNDLE=ON.
use_bundle=OFF
deps_dir=$build/deps
if [[ -f "$deps/deps.tar.xz" ]]; then
  rm -rf "$deps_dir" && mkdir -p "$deps_dir" && tar -C "$deps_dir" -xJf "$deps/deps.tar.xz"
  use_bundle=${TEMPLLM_USE_BUNDLE:-OFF}
fi
status_build="ok"
t0=$(date +%s)
if ! cmake -S "$root/scripts/device-check" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" -DTEMPLLM_DEPS="$deps_dir" -DTEMPLLM_USE_BUNDLE="$use_bundle" \
      >"$logs/configure.log" 2>&1; then
  status_build="configure FAILED (see configure.log)"
elif ! cmake --build "$build" --target cuda_ops cuda_fixtures decode_bench -j "$jobs" >"$logs/build.log" 2>&1; then
  status_build="build FAILED (see build.log)"
fi
t_build=$(( $(date +%s) - t0 ))

passed=0 failed=0 skipped=0 total=0 failed_names="" ctest_rc=1
bench_lines="(not run)"
if [[ "$status_build" == ok ]]; then
  ctest --test-dir "$build" -L gpu --output-on-failure --timeout 300 -j 4 >"$logs/ctest.log" 2>&1
  ctest_rc=$?
  # "100% tests passed out of 29" or "90% tests passed, 3 tests failed out of 29"
  total=$(grep -oE 'tests passed.* out of [0-9]+' "$logs/ctest.log" | grep -oE '[0-9]+$' | tail -1)
  failed=$(grep -oE '[0-9]+ tests failed out of' "$logs/ctest.log" | grep -oE '^[0-9]+' | tail -1)
  skipped=$(grep -cE '\(Skipped\)$' "$logs/ctest.log" || true)
  [[ -n "$total" ]] || total=0
  [[ -n "$failed" ]] || failed=0
  passed=$(( total - failed - skipped ))
  failed_names=$(grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)\)' "$logs/ctest.log" |
                 sed -E 's/^\s+[0-9]+ - //' | head -10)
  timeout 240 "$build/bin/decode_bench" 4 512 32 >"$logs/bench.log" 2>&1
  bench_lines=$(grep -E '^bench' "$logs/bench.log" || tail -3 "$logs/bench.log")
fi
t_total=$(( $(date +%s) - t_start ))

echo
echo "== templlm device check ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'no commit'), sm_$arch) =="
printf '%-10s %s\n' "gpu" "$gpu"
printf '%-10s %s (%d s, %d jobs)\n' "build" "$status_build" "$t_build" "$jobs"
printf '%-10s %d passed, %d failed, %d skipped, of %d\n' "tests" "$passed" "$failed" "$skipped" "$total"
[[ -n "$failed_names" ]] && echo "$failed_names" | sed 's/^/  failed: /'
[[ "$status_build" == ok && "$ctest_rc" != 0 && "$failed" == 0 ]] && echo "  ctest exited with $ctest_rc (see ctest.log)"
echo "$bench_lines" | sed 's/^/bench      /; s/^bench      bench /bench      /'
printf '%-10s %d s; logs in %s\n' "total" "$t_total" "$logs"
[[ "$status_build" == ok && "$failed" == 0 && "$ctest_rc" == 0 ]]
