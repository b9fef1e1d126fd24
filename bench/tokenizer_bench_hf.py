#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HF `tokenizers` side of the tokenizer benchmark: same text, same ~4 KiB chunks, one thread.

Usage: python3 bench/tokenizer_bench_hf.py TOKENIZER_JSON TEXT_FILE [REPEATS]
"""
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402


def chunks_of(text):
    out, b = [], 0
    while b < len(text):
        e = min(len(text), b + 4096)
        if e < len(text):
            nl = text.find(b"\n", e)
            e = len(text) if nl < 0 else nl + 1
        out.append(text[b:e].decode("utf-8", "replace"))
        b = e
    return out


def main():
    path, text_path = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(path)
    load_s = time.perf_counter() - t0
    raw = open(text_path, "rb").read()
    chunks = chunks_of(raw)
    best, tokens = 1e30, 0
    for _ in range(repeats):
        t = time.perf_counter()
        n = sum(len(tok.encode(c, add_special_tokens=False).ids) for c in chunks)
        best = min(best, time.perf_counter() - t)
        tokens = n
    print(f"hf load_s={load_s:.3f} bytes={len(raw)} tokens={tokens} encode_s={best:.3f} "
          f"MB/s={len(raw) / best / 1e6:.2f} tokens/s={tokens / best:.0f}")


if __name__ == "__main__":
    main()
