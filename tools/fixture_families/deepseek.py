"""DeepSeek-V3 tiny fixture in the released FP8 layout (design/architectures.md §2).

The generic pipeline of make_fixtures.py saves bf16 and reloads with from_pretrained; a
DeepSeek release is different, so this family has its own `build` (registered with
`register_builder`):

  * every FP8 linear of the release (attention projections, dense MLP, shared and routed
    experts) is block-quantised here to float8_e4m3fn with 128x128 fp32 `weight_scale_inv`
    blocks (tiny dims: every block is an edge block; the dense MLP's 160 gives one full and one
    partial block); embed / lm_head / norms / router weight are bf16, the
    `e_score_correction_bias` fp32 (random, nonzero);
  * the reference model holds the FP8 weights dequantised to fp32 FIRST (W * scale_inv, one
    rounding), never HF's FP8 activation-quantising path, and runs in fp32 eager;
  * the file also holds a multi-token-prediction layer `model.layers.<L>.*` (L =
    num_hidden_layers) with the released names (enorm, hnorm, eh_proj, shared_head.*, and a full
    decoder layer) so that loaders must recognise it;
  * config.json gets the released `quantization_config`, `scoring_func`, `topk_method`.

The transformers version pinned in versions.json gathers routing weights from the UNBIASED
sigmoid scores (checked below) and masks non-selected groups with -inf.
"""

from __future__ import annotations

import json
import math
import os
import platform

import numpy as np
import safetensors
import torch
import transformers
from safetensors.torch import load_file, save_file

import make_fixtures as mf

BLOCK = 128
FP8_MAX = 448.0
GROUP_GAP_MIN = 1e-3

_group_gaps: list[float] = []


def fp8_block_quantise(w: torch.Tensor):
    """w [out, in] fp32 -> (fp8 e4m3fn [out, in], scale_inv fp32 [ceil(out/128), ceil(in/128)])."""
    out, inp = w.shape
    so, si = math.ceil(out / BLOCK), math.ceil(inp / BLOCK)
    q = torch.empty(out, inp, dtype=torch.float8_e4m3fn)
    s = torch.empty(so, si, dtype=torch.float32)
    for i in range(so):
        for j in range(si):
            blk = w[i * BLOCK : (i + 1) * BLOCK, j * BLOCK : (j + 1) * BLOCK]
            scale = (blk.abs().max() / FP8_MAX).clamp(min=1e-12).float()
            s[i, j] = scale
            q[i * BLOCK : (i + 1) * BLOCK, j * BLOCK : (j + 1) * BLOCK] = (blk / scale).to(torch.float8_e4m3fn)
    return q, s


def fp8_dequantise(q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    out, inp = q.shape
    full = s.repeat_interleave(BLOCK, 0)[:out].repeat_interleave(BLOCK, 1)[:, :inp]
    return q.float() * full


FP8_SUFFIXES = (
    "q_a_proj.weight", "q_b_proj.weight", "kv_a_proj_with_mqa.weight", "kv_b_proj.weight", "o_proj.weight",
    "gate_proj.weight", "up_proj.weight", "down_proj.weight", "eh_proj.weight",
)


def is_fp8(name: str) -> bool:
    return name.endswith(FP8_SUFFIXES)


def config():
    from transformers import DeepseekV3Config

    return DeepseekV3Config(
        vocab_size=512, hidden_size=64, intermediate_size=160, moe_intermediate_size=32,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
        n_shared_experts=1, n_routed_experts=16, routed_scaling_factor=2.5,
        kv_lora_rank=32, q_lora_rank=48, qk_rope_head_dim=8, v_head_dim=16, qk_nope_head_dim=16,
        n_group=4, topk_group=2, num_experts_per_tok=4, first_k_dense_replace=1, norm_topk_prob=True,
        max_position_embeddings=163840, rms_norm_eps=1e-6,
        rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=40.0,
                             original_max_position_embeddings=4096, beta_fast=32.0, beta_slow=1.0,
                             mscale=1.0, mscale_all_dim=1.0),
        tie_word_embeddings=False, attention_bias=False, rope_interleave=True,
    )


def router_record(module, inputs, output):
    """Selection scores as HF computes them (sigmoid + bias, groups masked with -inf)."""
    router_logits, weights, indices = output
    scores = router_logits.float().sigmoid()
    # weights must come from the UNBIASED scores (design §2.6).
    gathered = scores.gather(1, indices)
    expect = gathered / (gathered.sum(-1, keepdim=True) + 1e-20) * module.routed_scaling_factor
    assert torch.allclose(expect, weights, rtol=0, atol=1e-6), "HF gathers routing weights from biased scores"
    choice = scores + module.e_score_correction_bias
    n, e = choice.shape
    g = module.num_group
    grouped = choice.view(n, g, e // g)
    group_scores = grouped.topk(2, dim=-1)[0].sum(-1)
    _group_gaps.append(mf.topk_gap(group_scores, module.topk_group).min().item())
    keep = torch.topk(group_scores, module.topk_group, dim=-1).indices
    mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, keep, True)
    masked = grouped.masked_fill(~mask.unsqueeze(-1), float("-inf")).view(n, e)
    return mf.RouterRecord(indices=indices.detach().clone(), scores=masked.detach().clone(), logits=None)


def family():
    from transformers import DeepseekV3ForCausalLM
    from transformers.models.deepseek_v3 import modeling_deepseek_v3 as dm

    def routers(model):
        return [l.mlp.gate if isinstance(getattr(l.mlp, "gate", None), dm.DeepseekV3TopkRouter) else None
                for l in model.model.layers]

    return mf.Family(
        config=config(), model_cls=DeepseekV3ForCausalLM, routers=routers, router_record=router_record,
        disk_layout=lambda sd: sd, base_seed=5000, weight_std=0.2,
        is_router=lambda m: isinstance(m, dm.DeepseekV3TopkRouter),
    )


def released_tensors(sd: dict, gen: torch.Generator, cfg) -> tuple[dict, dict]:
    """fp32 state dict -> (disk tensors, the fp32 values the reference must hold)."""
    disk, ref = {}, {}
    flat = mf.split_fused_experts(sd, r"(model\.layers\.\d+\.mlp)", ("gate_proj", "up_proj", "down_proj"))
    for k, v in flat.items():
        if k.endswith("e_score_correction_bias"):
            disk[k] = v.float().contiguous()
            ref[k] = v.float()
        elif is_fp8(k):
            q, s = fp8_block_quantise(v.float())
            disk[k] = q
            disk[k[: -len("weight")] + "weight_scale_inv"] = s
            ref[k] = fp8_dequantise(q, s)
        else:
            b = v.to(torch.bfloat16).contiguous()
            disk[k] = b
            ref[k] = b.float()
    # The MTP layer: a full decoder layer (copied shapes of the last one) + its own heads.
    L = cfg.num_hidden_layers
    h = cfg.hidden_size
    src = f"model.layers.{L - 1}."
    for k in list(flat):
        if k.startswith(src):
            name = f"model.layers.{L}." + k[len(src):]
            v = torch.randn(flat[k].shape, generator=gen) * 0.2
            if is_fp8(name):
                q, s = fp8_block_quantise(v)
                disk[name] = q
                disk[name[: -len("weight")] + "weight_scale_inv"] = s
            elif name.endswith("e_score_correction_bias"):
                disk[name] = (0.1 * v).float()
            else:
                disk[name] = v.to(torch.bfloat16)
    extra = {
        "enorm.weight": torch.ones(h), "hnorm.weight": torch.ones(h), "shared_head.norm.weight": torch.ones(h),
        "shared_head.head.weight": torch.randn(cfg.vocab_size, h, generator=gen) * 0.2,
        "embed_tokens.weight": torch.randn(cfg.vocab_size, h, generator=gen) * 0.2,
    }
    for k, v in extra.items():
        disk[f"model.layers.{L}.{k}"] = v.to(torch.bfloat16)
    q, s = fp8_block_quantise(torch.randn(h, 2 * h, generator=gen) * 0.2)
    disk[f"model.layers.{L}.eh_proj.weight"] = q
    disk[f"model.layers.{L}.eh_proj.weight_scale_inv"] = s
    return {k: v.contiguous() for k, v in disk.items()}, ref


def fuse_reference(ref: dict, model) -> dict:
    """Per-expert reference tensors back into the model's fused in-memory layout."""
    sd = model.state_dict()
    out = {}
    for k in sd:
        if k.endswith("experts.gate_up_proj"):
            p = k[: -len("gate_up_proj")]
            n = sd[k].shape[0]
            out[k] = torch.stack([torch.cat([ref[f"{p}{e}.gate_proj.weight"], ref[f"{p}{e}.up_proj.weight"]]) for e in range(n)])
        elif k.endswith("experts.down_proj"):
            p = k[: -len("down_proj")]
            out[k] = torch.stack([ref[f"{p}{e}.down_proj.weight"] for e in range(sd[k].shape[0])])
        else:
            out[k] = ref[k]
    return out


@torch.no_grad()
def try_seed(name: str, fam, seed: int, out_dir: str):
    cfg = fam.config
    torch.manual_seed(seed)
    model = fam.model_cls(cfg).eval()
    mf.reinit_parameters(model, fam, seed)
    gen = torch.Generator().manual_seed(seed + 7)
    for l in model.model.layers:
        gate = getattr(l.mlp, "gate", None)
        if gate is not None and hasattr(gate, "e_score_correction_bias"):
            gate.e_score_correction_bias.copy_(0.1 * torch.randn(gate.e_score_correction_bias.shape, generator=gen))
    disk, ref = released_tensors(model.state_dict(), gen, cfg)
    model.load_state_dict(fuse_reference(ref, model), strict=True)
    model.set_attn_implementation("eager")
    model.set_experts_implementation("eager")

    ids = torch.randint(0, cfg.vocab_size, (mf.PROMPT_LEN,), generator=torch.Generator().manual_seed(seed))
    _group_gaps.clear()
    m = mf.measure(model, fam, ids[None, :])
    stats = dict(seed=seed, min_router_gap_prefill=m.min_router_gap_prefill,
                 min_router_gap_decode=m.min_router_gap_decode, min_group_gap=min(_group_gaps),
                 min_greedy_logit_gap=m.min_greedy_logit_gap, logits_std=m.logits.std().item())
    ok = (m.min_router_gap_prefill > mf.ROUTER_GAP_MIN and m.min_router_gap_decode > mf.ROUTER_GAP_MIN
          and min(_group_gaps) > GROUP_GAP_MIN and m.min_greedy_logit_gap > mf.GREEDY_GAP_MIN)
    if not ok:
        print(f"  seed {seed} rejected: " + mf.fmt_stats(stats))
        return None

    os.makedirs(out_dir, exist_ok=True)
    for fn in os.listdir(out_dir):
        p = os.path.join(out_dir, fn)
        if os.path.isfile(p):
            os.remove(p)
    st = os.path.join(out_dir, "model.safetensors")
    save_file(dict(sorted(disk.items())), st, metadata={"format": "pt"})
    cfg_dict = json.loads(cfg.to_json_string())
    cfg_dict["architectures"] = ["DeepseekV3ForCausalLM"]
    cfg_dict["scoring_func"] = "sigmoid"
    cfg_dict["topk_method"] = "noaux_tc"
    cfg_dict["num_nextn_predict_layers"] = 1
    cfg_dict["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                       "weight_block_size": [BLOCK, BLOCK]}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg_dict, f, indent=2, sort_keys=True)
        f.write("\n")

    # Round trip: dequantise the written file into a fresh fp32 model; it must reproduce m.
    back = load_file(st)
    deq = {}
    for k, v in back.items():
        if k.startswith(f"model.layers.{cfg.num_hidden_layers}.") or k.endswith("weight_scale_inv"):
            continue
        deq[k] = fp8_dequantise(v, back[k[: -len("weight")] + "weight_scale_inv"]) if v.dtype == torch.float8_e4m3fn else v.float()
    fresh = fam.model_cls(cfg).eval()
    fresh.load_state_dict(fuse_reference(deq, fresh), strict=True)
    fresh.set_attn_implementation("eager")
    fresh.set_experts_implementation("eager")
    m2 = mf.measure(fresh, fam, ids[None, :])
    assert torch.equal(m2.logits, m.logits) and m2.experts == m.experts and m2.new_tokens == m.new_tokens

    exp_dir = os.path.join(out_dir, "expected")
    os.makedirs(exp_dir, exist_ok=True)
    prompt = [int(i) for i in ids.tolist()]
    with open(os.path.join(exp_dir, "ids.json"), "w") as f:
        json.dump(prompt, f)
        f.write("\n")
    np.save(os.path.join(exp_dir, "prefill_logits.npy"), np.ascontiguousarray(m.logits.numpy().astype("<f4")),
            allow_pickle=False)
    with open(os.path.join(exp_dir, "experts.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(layer) for layer in m.experts) + "\n]\n")
    with open(os.path.join(exp_dir, "greedy.json"), "w") as f:
        json.dump({"prompt": prompt, "new_tokens": m.new_tokens}, f)
        f.write("\n")
    with open(os.path.join(exp_dir, "versions.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "numpy": np.__version__,
                   "safetensors": safetensors.__version__, "python": platform.python_version(), "seed": seed,
                   "attn_implementation": "eager", "experts_implementation": "eager",
                   "dtype_reference": "float32 (FP8 blocks dequantised to fp32 first)",
                   "weights_dtype_on_disk": "float8_e4m3fn + fp32 weight_scale_inv [128x128]; bf16 embed/head/norms/router; fp32 e_score_correction_bias"},
                  f, indent=2)
        f.write("\n")
    return stats


def build(name: str, out_root: str, tmp_root: str) -> dict:
    fam = family()
    out_dir = os.path.join(out_root, name)
    for seed in range(fam.base_seed, fam.base_seed + mf.MAX_SEED_TRIES):
        stats = try_seed(name, fam, seed, out_dir)
        if stats is not None:
            print(f"{name}: seed {seed} accepted: " + mf.fmt_stats(stats))
            mf.describe(out_dir)
            return stats
    raise RuntimeError(f"{name}: no acceptable seed")


if __name__ == "__main__":
    import sys

    mf.setup_torch()
    transformers.logging.set_verbosity_error()
    build("deepseek-v3-tiny", sys.argv[1] if len(sys.argv) > 1 else "tests/data/models", "/tmp")
