#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-16 (ASan + UBSan) into build-fuzz/ and
# runs each for FUZZ_SECONDS (default 30) from its committed seed corpus. Any crash, sanitizer
# report, leak, hang (-timeout) or runaway allocation (-rss_limit_mb) fails; the input that did
# it is left in build-fuzz/findings/<target>/ to be added as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
if ! command -v clang++-16 >/dev/null || ! dpkg -s libclang-rt-16-dev >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clang-16 libclang-rt-16-dev >/dev/null
fi
CXX=clang++-16 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
  -DTEMPLLM_ENABLE_CUDA=OFF -DTEMPLLM_BUILD_TESTS=OFF -DTEMPLLM_BUILD_APPS=OFF \
  -DTEMPLLM_BUILD_FUZZERS=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)"

status=0
for seeds in tests/fuzz/corpus/*/; do
  target="$(basename "$seeds")"
  work="build-fuzz/work/$target" findings="build-fuzz/findings/$target"
  rm -rf "$work" && mkdir -p "$work" "$findings"
  echo "fuzz_$target: ${seconds}s from $(ls "$seeds" | wc -l) seeds"
  # New inputs go to the scratch corpus (first directory); the committed seeds stay as they are.
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
      "build-fuzz/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
      -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" "$work" "$seeds" \
      >"build-fuzz/fuzz_$target.log" 2>&1; then
    echo "fuzz_$target FAILED (log: build-fuzz/fuzz_$target.log; input in $findings/):"
    tail -n 40 "build-fuzz/fuzz_$target.log"
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "build-fuzz/fuzz_$target.log" | tail -n 1
  fi
done
exit "$status"
