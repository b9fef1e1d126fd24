#!/usr/bin/env bash
# The CPU test executables (and the CLI they drive) under AddressSanitizer + UBSan in
# build-asan/, and the threaded ones (thread pool, engine, one model shared by threads) under
# ThreadSanitizer in build-tsan/. Any sanitizer report fails: -fno-sanitize-recover makes UBSan
# fatal, halt_on_error the others. No CUDA, no benchmarks or examples: they add no host code the
# tests do not already run.  Usage: scripts/sanitizers.sh [asan|tsan|all]
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
jobs="$(nproc)"

build() {  # dir, -fsanitize= value, targets...
  local dir="$1" sanitize="$2"
  shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1" \
    -DCMAKE_CXX_FLAGS="-fsanitize=$sanitize -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize" -DTEMPLLM_ENABLE_CUDA=OFF >/dev/null
  cmake --build "$dir" -j"$jobs" --target "$@"
}

run() {  # dir, executables...
  local dir="$1" status=0
  shift
  for t in "$@"; do
    echo "== $dir/bin/$t"
    if ! "$dir/bin/$t" --gtest_brief=1 >"$dir/$t.log" 2>&1; then
      tail -n 60 "$dir/$t.log"
      status=1
    else
      tail -n 1 "$dir/$t.log"
    fi
  done
  return "$status"
}

status=0
unit=(unit_cli unit_core unit_io unit_layers unit_model unit_models unit_runtime unit_serve unit_threads unit_tokenizer unit_vision)
if [[ "$which" == asan || "$which" == all ]]; then
  build build-asan address,undefined templlm_cli "${unit[@]}"
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run build-asan "${unit[@]}" || status=1
fi
if [[ "$which" == tsan || "$which" == all ]]; then
  threaded=(unit_core unit_runtime unit_threads)
  build build-tsan thread "${threaded[@]}"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run build-tsan "${threaded[@]}" || status=1
fi
exit "$status"
