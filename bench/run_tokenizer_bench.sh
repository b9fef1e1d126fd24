#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Encodes the same few MB of text with templlm (bench/tokenizer_bench.cpp) and HF `tokenizers`
# (bench/tokenizer_bench_hf.py), one thread each, and prints both throughputs and their ratio.
# Usage: bench/run_tokenizer_bench.sh [BENCH_BINARY] [MB]
#   BENCH_BINARY defaults to build/bin/tokenizer_bench; MB (default 4) is the text size.
# The text: the multilingual test corpus, then the Python standard library's sources (English
# prose and code), in sorted order, cut at MB megabytes: the same on every Debian-based machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/bin/tokenizer_bench}
mb=${2:-4}
text=$(mktemp /tmp/templlm_bench_text.XXXXXX)
trap 'rm -f "$text"' EXIT
python3 - "$root/tests/data/tokenizers/corpus.txt" "$text" "$mb" <<'PY'
import re, sys, sysconfig
from pathlib import Path
corpus, out, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
def unescape(l):
    l = re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: chr(int(m.group(1), 16)), l)
    return l.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
parts = [unescape(l) for l in open(corpus, encoding="utf-8").read().split("\n")]
limit = int(mb * 1e6)
data = "\n".join(parts).encode()
for p in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
    if len(data) >= limit:
        break
    data += p.read_bytes()
open(out, "wb").write(data[:limit])
PY
printf '%-12s %10s %10s %10s %8s\n' tokenizer templlm_MB/s hf_MB/s ratio load_s
for name in gptoss qwen3 deepseek_v3 llama3_1 mistral; do
  json=$root/tests/data/tokenizers/$name/tokenizer.json
  ours=$("$bin" "$json" "$text" 3)
  theirs=$(python3 "$root/bench/tokenizer_bench_hf.py" "$json" "$text" 3)
  o=$(sed -E 's/.*MB\/s=([0-9.]+).*/\1/' <<<"$ours")
  h=$(sed -E 's/.*MB\/s=([0-9.]+).*/\1/' <<<"$theirs")
  ol=$(sed -E 's/.*load_s=([0-9.]+).*/\1/' <<<"$ours")
  hl=$(sed -E 's/.*load_s=([0-9.]+).*/\1/' <<<"$theirs")
  [[ $(sed -E 's/.*tokens=([0-9]+) .*/\1/' <<<"$ours") == $(sed -E 's/.*tokens=([0-9]+) .*/\1/' <<<"$theirs") ]] \
    || echo "WARNING: $name token counts differ: $ours / $theirs"
  printf '%-12s %10s %10s %10s %8s\n' "$name" "$o" "$h" "$(python3 -c "print(f'{$o/$h:.2f}x')")" "$ol/$hl"
done
