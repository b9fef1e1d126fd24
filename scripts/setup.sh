#!/usr/bin/env bash
# Installs what templlm needs on a fresh Debian 12 machine and builds the CLI into build/
# (build/bin/templlm; only what the first command needs, so the first tokens come soon). The
# tests, examples and benchmarks are built by scripts/test.sh, or `cmake --build build`.
# Debian: Eigen, range-v3, nlohmann-json, PCRE2, GoogleTest, cpp-httplib, libpng, libjpeg-turbo; PyPI: a CMake that knows nvcc 13.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libeigen3-dev librange-v3-dev nlohmann-json3-dev libpcre2-dev libgtest-dev pkg-config libcpp-httplib-dev libpng-dev libjpeg-dev \
    >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq libeigen3-dev librange-v3-dev nlohmann-json3-dev libpcre2-dev \
    libgtest-dev pkg-config libcpp-httplib-dev libpng-dev libjpeg-dev >/dev/null
fi
cmake_ok() { command -v cmake >/dev/null && cmake --version | awk 'NR==1{split($3,v,"."); exit !(v[1]>3 || (v[1]==3 && v[2]>=26))}'; }
if ! cmake_ok; then
  python3 -m pip install -q "cmake>=3.26"
  hash -r
fi
start=$SECONDS
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target templlm_cli -j"$(nproc)"
echo "templlm: build/bin/templlm built in $((SECONDS - start)) s (configure + compile, $(nproc) cores)"
