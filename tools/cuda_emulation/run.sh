#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the CUDA tests (tests/cuda/*_test.cu) on the CPU: the CUDA backend's kernels compiled by
# g++ against the fake CUDA/cuBLAS/CUB headers beside this script (see fake/cuda_runtime.h for
# what is and is not emulated). For machines without a GPU: it checks the kernels' logic
# (indexing, masks, tile schedules, barriers within a block) against the CPU backend, not their
# speed or anything a real device adds. Not part of CI; docs/backends.md records what it found.
#
# Usage: tools/cuda_emulation/run.sh [ops|fixtures|all] [gtest args...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${TEMPLLM_EMULATION_DIR:-/tmp/templlm-cuda-emulation}
which=${1:-all}
shift || true
mkdir -p "$work"
python3 "$here/transform.py" "$root" "$work/include"
eigen=$(pkg-config --cflags-only-I eigen3 2>/dev/null | sed 's/-I/-isystem /g' || true)
[[ -n "$eigen" ]] || eigen="-isystem /usr/include/eigen3"
tests=(ops fixtures)
[[ "$which" == all ]] || tests=("$which")
status=0
for t in "${tests[@]}"; do
  echo "== emulated tests/cuda/${t}_test.cu"
  # shellcheck disable=SC2086
  g++ -std=c++20 -O1 -pthread -I"$here/fake" -I"$work/include" -I"$root/tests" -I"$root/tests/cuda" $eigen \
    -DTEMPLLM_TEST_DATA_DIR="\"$root/tests/data\"" -Wno-unknown-pragmas -x c++ "$root/tests/cuda/${t}_test.cu" \
    -o "$work/$t" -lgtest -lgtest_main
  "$work/$t" "$@" || status=1
done
exit $status
