#!/usr/bin/env bash
# templlm vs llama.cpp on the CPU, side by side in one run (issue 18; docs/performance.md):
#   bash bench/cpu_vs_llamacpp.sh [WORK_DIR]      (default: build-bench/, never committed)
# 1. llama.cpp from the llama-cpp-python source distribution on PyPI (its vendored llama.cpp),
#    built CPU-only with its defaults (GGML_NATIVE=ON): llama-bench and llama-quantize.
# 2. Random-weight checkpoints written by transformers (bench/make_random_checkpoints.py:
#    Qwen3-0.6B dense, a 1.1B Qwen3-MoE with 64 experts top-8), converted by llama.cpp's own
#    convert_hf_to_gguf.py to bf16 (and Q8_0 / Q4_0 by llama-quantize, for reference rows).
# 3. Prefill (a 128-token prompt) and decode (64 tokens) tokens/s, THREADS (default "1 <all>"),
#    best of REPEAT (default 3), the two engines alternated ROUNDS times (default 2) so machine
#    drift hits both; the table, then one line: cpu vs llama.cpp: min ratio R (decode D, prefill P)
#    over the bf16 rows. Runs outside CI (minutes of builds, ~10 GB of disk). TEMPLLM_BUILD: the
#    templlm build directory to use (default build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "${1:-$root/build-bench}" && cd "${1:-$root/build-bench}" && pwd)
threads=${THREADS:-"1 $(nproc)"}
repeat=${REPEAT:-3}
rounds=${ROUNDS:-2}
jobs=$(nproc)
tbuild=${TEMPLLM_BUILD:-$root/build}  # templlm's build directory (checkpoint_bench is built there)
log() { echo "[cpu_vs_llamacpp] $*" >&2; }

python3 -c "import torch, transformers, safetensors, numpy" 2>/dev/null ||
  python3 -m pip install -q -r "$root/tools/requirements.txt"
python3 -c "import sentencepiece, google.protobuf" 2>/dev/null || python3 -m pip install -q sentencepiece protobuf

# 1. llama.cpp, from PyPI's llama-cpp-python sdist.
lcpp=$work/llama.cpp
if [[ ! -f $lcpp/CMakeLists.txt ]]; then
  log "fetching the llama-cpp-python source distribution from PyPI"
  python3 - "$work" <<'PY'
import json, pathlib, sys, tarfile, urllib.parse, urllib.request
work = pathlib.Path(sys.argv[1])
base = "https://pypi.org/pypi/llama-cpp-python/json"
meta = json.load(urllib.request.urlopen(base, timeout=60))
sdist = next(u for u in meta["urls"] if u["packagetype"] == "sdist")
path = work / sdist["filename"]
urllib.request.urlretrieve(urllib.parse.urljoin(base, sdist["url"]), path)
with tarfile.open(path) as t:
    t.extractall(work, filter="data")
top = work / sdist["filename"].removesuffix(".tar.gz")
(top / "vendor" / "llama.cpp").rename(work / "llama.cpp")
(work / "llama-cpp-python-version").write_text(meta["info"]["version"] + "\n")
PY
fi
if [[ ! -x $lcpp/build/bin/llama-bench ]]; then
  log "building llama.cpp (CPU only, GGML_NATIVE=ON)"
  cmake -S "$lcpp" -B "$lcpp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_CUDA=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$lcpp/build" --target llama-bench llama-quantize -j"$jobs" >/dev/null
fi

# 2. Checkpoints and their GGUF conversions.
models=$work/models
if [[ ! -f $models/qwen3-moe-1b-random/config.json ]]; then
  log "writing random checkpoints with transformers"
  python3 "$root/bench/make_random_checkpoints.py" "$models"
fi
for m in qwen3-0.6b-random qwen3-moe-1b-random; do
  if [[ ! -f $models/$m-bf16.gguf ]]; then
    log "converting $m with convert_hf_to_gguf.py"
    python3 "$lcpp/convert_hf_to_gguf.py" "$models/$m" --outtype bf16 --outfile "$models/$m-bf16.gguf" >/dev/null 2>&1
  fi
  for q in Q8_0 Q4_0; do
    [[ -f $models/$m-$q.gguf ]] ||
      "$lcpp/build/bin/llama-quantize" "$models/$m-bf16.gguf" "$models/$m-$q.gguf" "$q" >/dev/null 2>&1
  done
done

# 3. templlm's side.
[[ -f $tbuild/CMakeCache.txt ]] || cmake -S "$root" -B "$tbuild" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tbuild" --target checkpoint_bench -j"$jobs" >/dev/null

results=$work/results.jsonl
: > "$results"
tlist=$(echo "$threads" | tr ' ' ',')
for round in $(seq "$rounds"); do
  for m in qwen3-0.6b-random qwen3-moe-1b-random; do
    log "round $round: $m"
    "$tbuild/bin/checkpoint_bench" --model "$models/$m" --threads "$tlist" --repeat "$repeat" |
      python3 -c "import json,sys
for l in sys.stdin:
    r = json.loads(l); r.update(round=$round, model='$m', precision='bf16'); print(json.dumps(r))" >> "$results"
    for q in bf16 Q8_0 Q4_0; do
      "$lcpp/build/bin/llama-bench" -m "$models/$m-$q.gguf" -p 128 -n 64 -t "$tlist" -r "$repeat" -o jsonl 2>/dev/null |
        python3 -c "import json,sys
for l in sys.stdin:
    r = json.loads(l)
    phase = 'prefill' if r['n_prompt'] > 0 else 'decode'
    print(json.dumps({'engine': 'llama.cpp', 'round': $round, 'model': '$m', 'precision': '$q',
                      'threads': r['n_threads'], phase + '_tok_s': r['avg_ts']}))" >> "$results"
    done
  done
done

python3 - "$results" "$work" <<'PY'
import collections, json, pathlib, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = collections.defaultdict(dict)  # (engine, model, precision, threads) -> phase -> best over rounds
for r in rows:
    key = (r["engine"], r["model"], r["precision"], r["threads"])
    for phase in ("prefill", "decode"):
        v = r.get(phase + "_tok_s")
        if v is not None:
            best[key][phase] = max(best[key].get(phase, 0.0), v)
version = (pathlib.Path(sys.argv[2]) / "llama-cpp-python-version").read_text().strip()
isa = next((r["isa"] for r in rows if r["engine"] == "templlm"), "?")
print(f"llama.cpp from llama-cpp-python {version}; templlm CPU ISA: {isa}")
print("| model | threads | templlm bf16 prefill / decode tok/s | llama.cpp bf16 | ratio | llama.cpp Q8_0 | llama.cpp Q4_0 |")
print("|---|---:|---|---|---|---|---|")
ratios = {"prefill": [], "decode": []}
for (engine, model, precision, threads), t in sorted(best.items()):
    if engine != "templlm":
        continue
    l = best.get(("llama.cpp", model, "bf16", threads), {})
    q8 = best.get(("llama.cpp", model, "Q8_0", threads), {})
    q4 = best.get(("llama.cpp", model, "Q4_0", threads), {})
    rp = t["prefill"] / l["prefill"] if l.get("prefill") else float("nan")
    rd = t["decode"] / l["decode"] if l.get("decode") else float("nan")
    ratios["prefill"].append(rp)
    ratios["decode"].append(rd)
    fmt = lambda d: f"{d.get('prefill', float('nan')):.1f} / {d.get('decode', float('nan')):.1f}"
    print(f"| {model} | {threads} | {fmt(t)} | {fmt(l)} | {rp:.2f} / {rd:.2f} | {fmt(q8)} | {fmt(q4)} |")
d, p = min(ratios["decode"]), min(ratios["prefill"])
print(f"cpu vs llama.cpp: min ratio {min(d, p):.2f} (decode {d:.2f}, prefill {p:.2f})")
PY
