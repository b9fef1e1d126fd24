#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Random-weight Hugging Face checkpoints for bench/cpu_vs_llamacpp.sh, saved by transformers in
bf16 with the Qwen3 tokenizer, so both engines read the same released on-disk format:

  qwen3-0.6b-random      Qwen3-0.6B's config.json (dense, 28 layers, tied 151936-row head)
  qwen3-moe-1b-random    Qwen3-MoE-shaped: hidden 1024, 8 layers, 64 experts of which 8 active,
                         expert width 512, 151936 vocab (1.1B total, 0.42B active with the head)

templlm's descriptions of these shapes: model::Qwen3_0_6B and bench/cpu_models.hpp's Qwen3Moe1B64.
Usage: make_random_checkpoints.py OUT_DIR (tokenizer from tests/data/tokenizers/qwen3).
"""
import pathlib
import shutil
import sys

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "tests" / "data" / "tokenizers" / "qwen3"

COMMON = dict(vocab_size=151936, hidden_size=1024, rms_norm_eps=1e-6, rope_theta=1e6,
              max_position_embeddings=40960, attention_bias=False, use_sliding_window=False,
              bos_token_id=151643, eos_token_id=151645, torch_dtype="bfloat16")


def save(model, out: pathlib.Path):
    out.mkdir(parents=True, exist_ok=True)
    # Small random weights keep activations in range through the layers (std 0.02, as HF inits).
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / f, out / f)
    print(f"{out}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    torch.manual_seed(0)
    dense = transformers.Qwen3Config(num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                                     head_dim=128, intermediate_size=3072, tie_word_embeddings=True, **COMMON)
    save(transformers.Qwen3ForCausalLM(dense), out / "qwen3-0.6b-random")
    moe = transformers.Qwen3MoeConfig(num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=4,
                                      head_dim=128, intermediate_size=3072, moe_intermediate_size=512,
                                      num_experts=64, num_experts_per_tok=8, norm_topk_prob=True,
                                      decoder_sparse_step=1, mlp_only_layers=[], tie_word_embeddings=False,
                                      **COMMON)
    save(transformers.Qwen3MoeForCausalLM(moe), out / "qwen3-moe-1b-random")


if __name__ == "__main__":
    main()
