#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Serving throughput and latency of `templlm serve`, measured with the official `openai` client
over loopback, the way vLLM's benchmark_serving measures an engine (docs/performance.md):

  python3 bench/serve_bench.py [--cli build/bin/templlm] [--model models/demo]
                               [--concurrency 1,4,16] [--requests 32] [--prompt-words 64]
                               [--max-tokens 64] [--threads N] [--backend cpu]

For each concurrency C it starts one server, sends `--requests` chat requests (streamed,
greedy, `--max-tokens` each, `ignore_eos`-like: the demo model rarely stops early and every
request's completion tokens are counted from `usage`), C at a time, and reports: requests/s,
output tokens/s, time to first token (mean, median, p99), time per output token after the first
(TPOT: (latency - TTFT) / (tokens - 1)), inter-token latency between streamed chunks (mean,
p99) and end-to-end latency (mean, p99). Prompts differ per request (no prefix-cache hits beyond
the chat template's head). Runs outside CI; numbers depend on the machine: say which.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time

try:
    import openai
except ImportError:
    sys.exit("python3 -m pip install openai")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("And God said let there be light and there was light and God saw the light that it was good "
         "and God divided the light from the darkness").split()


def start_server(args):
    cmd = [args.cli, "serve", "--model", args.model, "--port", "0", "--backend", args.backend,
           "--max-batch", str(max(args.concurrency_levels)), "--prefix-cache", "0"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, f"http://127.0.0.1:{m.group(1)}"
    proc.kill()
    sys.exit("templlm serve did not start: " + (proc.stderr.read() or ""))


def prompt(i, words):
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words)) + f" ({i})"


def one_request(client, i, args, out):
    t0 = time.perf_counter()
    first, chunks, tokens = None, [], 0
    stream = client.chat.completions.create(
        model="bench", messages=[{"role": "user", "content": prompt(i, args.prompt_words)}],
        max_tokens=args.max_tokens, temperature=0, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        now = time.perf_counter()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
        if any(c.delta.content for c in chunk.choices):
            if first is None:
                first = now
            chunks.append(now)
    end = time.perf_counter()
    out.append({"ttft": (first or end) - t0, "latency": end - t0, "tokens": tokens,
                "itl": [b - a for a, b in zip(chunks, chunks[1:])]})


def run_level(url, c, args):
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=3600)
    one_request(client, 10_000 + c, args, [])  # warm-up, not counted
    results, next_i, lock = [], [0], threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= args.requests:
                return
            one_request(client, i, args, results)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return wall, results


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "templlm"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "demo"))
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--prompt-words", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    args.concurrency_levels = [int(x) for x in args.concurrency.split(",")]
    print(f"templlm serve bench: model {args.model}, backend {args.backend}, {args.requests} requests of "
          f"~{args.prompt_words} prompt words and {args.max_tokens} output tokens, streamed, greedy; "
          f"host {os.uname().nodename} ({os.cpu_count()} CPUs)")
    print("| concurrency | req/s | output tok/s | TTFT mean / median / p99 (ms) | TPOT mean (ms) | "
          "ITL mean / p99 (ms) | latency mean / p99 (s) |")
    print("|---|---|---|---|---|---|---|")
    for c in args.concurrency_levels:
        proc, url = start_server(args)
        try:
            wall, rs = run_level(url, c, args)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        tokens = sum(r["tokens"] for r in rs)
        ttft = [r["ttft"] * 1e3 for r in rs]
        tpot = [(r["latency"] - r["ttft"]) / (r["tokens"] - 1) * 1e3 for r in rs if r["tokens"] > 1]
        itl = [x * 1e3 for r in rs for x in r["itl"]]
        lat = [r["latency"] for r in rs]
        print(f"| {c} | {len(rs) / wall:.2f} | {tokens / wall:.1f} | {statistics.mean(ttft):.0f} / "
              f"{statistics.median(ttft):.0f} / {pct(ttft, 99):.0f} | {statistics.mean(tpot):.1f} | "
              f"{statistics.mean(itl):.1f} / {pct(itl, 99):.1f} | {statistics.mean(lat):.2f} / {pct(lat, 99):.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
