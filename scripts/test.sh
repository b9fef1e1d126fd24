#!/usr/bin/env bash
# Builds (setup.sh, then every target) and runs every test: the suite (CUDA tests skip without a GPU), then the
# CPU suite again under ASan+UBSan and TSan (scripts/sanitizers.sh), then each fuzz target for a
# bounded time (scripts/fuzz.sh). TEMPLLM_TEST_QUICK=1 stops after the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --build build -j"$(nproc)"  # everything else: the tests, examples and benchmarks
# The real clients the server tests drive (tests/serve).
python3 -c "import openai, anthropic" 2>/dev/null || python3 -m pip install -q openai anthropic
(cd build && ctest --output-on-failure -j"$(nproc)")
[[ "${TEMPLLM_TEST_QUICK:-0}" == 1 ]] && exit 0
bash scripts/sanitizers.sh all
bash scripts/fuzz.sh
