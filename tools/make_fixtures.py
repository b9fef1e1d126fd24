#!/usr/bin/env python3
"""Build tiny random Hugging Face checkpoints and record reference outputs.

Usage:
    python3 tools/make_fixtures.py --out tests/data/models [--only NAME ...]

For every registered fixture this script

  1. builds the fp32 model from a hard-coded tiny config with a fixed seed and
     overwrites every parameter with a "sensitive" random init (see
     `reinit_parameters`);
  2. casts it to bf16 (what goes on disk) and screens the seed on an fp32
     twin holding those bf16 values (step 5);
  3. `save_pretrained`s it (safetensors) and checks that the written file
     carries exactly the tensor names / shapes / values of the released
     on-disk layout (per-expert MoE tensors, not the fused in-memory
     `experts.gate_up_proj` of transformers v5), rewriting it into that
     layout if it does not;
  4. copies `config.json` + `model.safetensors` into `<out>/<name>/`, reloads
     the model from there in fp32 with eager attention and eager experts,
     asserts it reproduces the screen bit for bit, and records, from that
     reloaded model only:
        expected/ids.json            prompt ids (16 ids drawn from [0, vocab))
        expected/prefill_logits.npy  float32 [T, vocab]
        expected/experts.json        per layer, per position, top-k expert ids
                                     in torch.topk order ([] for dense layers)
        expected/greedy.json         8 greedy tokens from model.generate
        expected/versions.json       library versions, seed, numerics
  5. rejects a seed (and tries seed+1, ...) unless every routing decision
     (prefill and the greedy decode steps) has a gap > ROUTER_GAP_MIN between
     the k-th and (k+1)-th router probability and > ROUTER_LOGIT_GAP_MIN
     between the same router logits, and every greedy step has a top-1/top-2
     logit margin > GREEDY_GAP_MIN.

Adding a family (GPT-OSS, DeepSeek-V3, Llama 4, ...) = one more function
decorated with `@register("name")` that returns a `Family` (config, model
class, router capture, on-disk layout); see the three builders at the bottom.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built locally

import numpy as np
import torch
import torch.nn.functional as F

import safetensors
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

# --------------------------------------------------------------------------
# Global knobs
# --------------------------------------------------------------------------
PROMPT_LEN = 16
NEW_TOKENS = 8
ROUTER_GAP_MIN = 1e-3  # k-th vs (k+1)-th router probability (prefill and decode)
ROUTER_LOGIT_GAP_MIN = 0.05  # same gap on the raw router logits (robust to bf16-ish compute)
GREEDY_GAP_MIN = 0.05  # top-1 vs top-2 logit at each greedy step
MAX_SEED_TRIES = 5000

NORM_WEIGHT_SPREAD = 0.3  # RMSNorm weight = 1 + 0.3 * N(0, 1)
ROUTER_STD = 0.5  # router (gate) weights ~ N(0, 0.5^2)

FILES_FROM_SAVE = ("config.json", "model.safetensors")


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------
@dataclasses.dataclass
class RouterRecord:
    """What a router hook extracts for one forward call.

    indices: LongTensor [N, k], selected experts in the order the model uses
             them (torch.topk order, descending score).
    scores:  FloatTensor [N, E], the quantity top-k is taken over (used for
             the tie check: gap between the k-th and (k+1)-th largest).
    """

    indices: torch.Tensor
    scores: torch.Tensor
    logits: torch.Tensor | None = None  # raw router logits [N, E], if any


@dataclasses.dataclass
class Family:
    config: transformers.PretrainedConfig
    model_cls: type
    # model -> one entry per decoder layer: the router module, or None (dense)
    routers: Callable[[torch.nn.Module], list]
    # (router module, hook inputs, hook output) -> RouterRecord
    router_record: Callable[[torch.nn.Module, tuple, object], RouterRecord]
    # in-memory bf16 state_dict -> {name: tensor} of the released on-disk layout
    disk_layout: Callable[[dict], dict]
    # First seed tried; the search walks upwards until `acceptable`. Set to
    # the seed a full search accepted so that a rerun reproduces it at once.
    base_seed: int = 1234
    weight_std: float = 0.2  # every linear / embedding weight ~ N(0, std^2)
    # predicate on module: is this a router whose weight gets ROUTER_STD
    is_router: Callable[[torch.nn.Module], bool] = lambda m: False
    # Optional hooks (families that need more than the defaults above):
    prompt_len: int = PROMPT_LEN
    # (full parameter name, module, parameter, N(0,1) noise) -> True if it initialised the parameter
    init_param: Callable | None = None
    # (fp32 model, seed) -> None, after the init and before the cast to bf16 (e.g. quantise experts)
    post_init: Callable | None = None
    # (config.json dict) -> None, edits the saved config.json (e.g. add quantization_config)
    patch_config: Callable | None = None
    load_kwargs: Callable[[], dict] = dict  # extra from_pretrained kwargs for the reference
    versions_extra: dict = dataclasses.field(default_factory=dict)  # merged into versions.json


REGISTRY: dict[str, Callable[[], Family]] = {}


def register(name: str):
    def deco(fn):
        assert name not in REGISTRY, name
        REGISTRY[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------
def setup_torch():
    torch.set_num_threads(1)
    try:
        torch.use_deterministic_algorithms(True)
    except Exception as e:  # pragma: no cover
        print(f"warning: use_deterministic_algorithms unavailable: {e}")


def is_rmsnorm(module: torch.nn.Module) -> bool:
    return type(module).__name__.endswith("RMSNorm")


@torch.no_grad()
def reinit_parameters(model: torch.nn.Module, fam: Family, seed: int):
    """Overwrite every parameter deterministically (HF init is too flat)."""
    gen = torch.Generator().manual_seed(seed)
    done = set()
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if id(p) in done:  # tied weights
                continue
            done.add(id(p))
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if fam.init_param is not None and fam.init_param(full, module, p, noise):
                pass
            elif is_rmsnorm(module):
                assert p.dim() == 1, full
                p.copy_(1.0 + NORM_WEIGHT_SPREAD * noise)
            elif fam.is_router(module):
                p.copy_(ROUTER_STD * noise)
            elif p.dim() >= 2:
                p.copy_(fam.weight_std * noise)
            else:
                raise RuntimeError(f"no init rule for 1-D parameter {full} ({type(module).__name__})")
    n_named = len({id(p) for p in model.parameters()})
    assert len(done) == n_named, (len(done), n_named)


def softmax_topk_router_record(module, inputs, output) -> RouterRecord:
    """For routers returning (router_logits, top_k_weights, top_k_index) whose
    top-k is taken over softmax(router_logits) (Mixtral, Qwen3-MoE in v5)."""
    router_logits, _weights, indices = output
    probs = F.softmax(router_logits.float(), dim=-1)
    return RouterRecord(
        indices=indices.detach().clone(),
        scores=probs.detach().clone(),
        logits=router_logits.detach().float().clone(),
    )


def topk_gap(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Per-row gap between the k-th and (k+1)-th largest score."""
    s = torch.sort(scores, dim=-1, descending=True).values
    if s.shape[-1] <= k:
        return torch.full(s.shape[:-1], float("inf"))
    return s[..., k - 1] - s[..., k]


def split_fused_experts(sd: dict, fused_prefix_re: str, names: tuple[str, str, str], rename=None) -> dict:
    """Turn v5 fused experts (`<p>.experts.gate_up_proj [E,2I,H]` with gate
    first, `<p>.experts.down_proj [E,H,I]`) into per-expert 2-D tensors
    `<p>.experts.{e}.{gate,up,down}.weight`; other keys pass through (after
    `rename`)."""
    gate_n, up_n, down_n = names
    out = {}
    for k, v in sd.items():
        m = re.fullmatch(fused_prefix_re + r"\.experts\.(gate_up_proj|down_proj)", k)
        nk = rename(k) if rename else k
        if m is None:
            out[nk] = v
            continue
        prefix = (rename(m.group(1)) if rename else m.group(1)) + ".experts"
        if m.group(2) == "gate_up_proj":
            n_exp, two_i, _ = v.shape
            inter = two_i // 2
            for e in range(n_exp):
                out[f"{prefix}.{e}.{gate_n}.weight"] = v[e, :inter, :]
                out[f"{prefix}.{e}.{up_n}.weight"] = v[e, inter:, :]
        else:
            for e in range(v.shape[0]):
                out[f"{prefix}.{e}.{down_n}.weight"] = v[e]
    return {k: t.contiguous() for k, t in out.items()}


def read_safetensors(path: str):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return meta, tensors


def check_or_fix_layout(st_path: str, expected: dict) -> bool:
    """Verify the written file is exactly `expected` (names, shapes, dtypes,
    bit-identical values). Rewrite it into that layout otherwise. Returns
    True if the file was rewritten."""
    meta, got = read_safetensors(st_path)
    problems = []
    if set(got) != set(expected):
        problems.append(
            f"key mismatch: missing={sorted(set(expected) - set(got))[:8]} "
            f"unexpected={sorted(set(got) - set(expected))[:8]}"
        )
    else:
        for k, t in expected.items():
            g = got[k]
            if g.shape != t.shape or g.dtype != t.dtype:
                problems.append(f"{k}: file {tuple(g.shape)} {g.dtype} vs expected {tuple(t.shape)} {t.dtype}")
            elif not torch.equal(g.view(torch.int16), t.view(torch.int16)):
                problems.append(f"{k}: values differ")
    if (meta or {}).get("format") != "pt":
        problems.append(f"metadata {meta}")
    if not problems:
        return False
    print("  save_pretrained layout differs from the released layout; rewriting:")
    for p in problems[:10]:
        print("    " + p)
    save_file({k: v.contiguous() for k, v in sorted(expected.items())}, st_path, metadata={"format": "pt"})
    return True


class RouterCapture:
    """Forward hooks on each layer's router; accumulates RouterRecords."""

    def __init__(self, model, fam: Family):
        self.routers = fam.routers(model)
        self.fam = fam
        self.records: list[list[RouterRecord]] = [[] for _ in self.routers]
        self.handles = []
        for li, r in enumerate(self.routers):
            if r is not None:
                self.handles.append(r.register_forward_hook(self._hook(li)))

    def _hook(self, li):
        def fn(module, inputs, output):
            self.records[li].append(self.fam.router_record(module, inputs, output))

        return fn

    def reset(self):
        self.records = [[] for _ in self.routers]

    def remove(self):
        for h in self.handles:
            h.remove()


def load_reference_model(fam: Family, path: str):
    model, info = fam.model_cls.from_pretrained(
        path,
        dtype=torch.float32,  # (v5 name of torch_dtype)
        attn_implementation="eager",
        experts_implementation="eager",
        output_loading_info=True,
        **fam.load_kwargs(),
    )
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"from_pretrained loading problems: {bad}"
    model.eval()
    assert next(model.parameters()).dtype == torch.float32
    return model


# --------------------------------------------------------------------------
# One fixture
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Measurement:
    logits: torch.Tensor  # [T, vocab] fp32
    experts: list  # per layer: [] (dense) or per position list of expert ids
    new_tokens: list
    min_router_gap_prefill: float  # router score (probability) gap, k-th vs (k+1)-th
    min_router_gap_decode: float
    min_router_logit_gap: float  # same gap on the raw router logits, prefill + decode
    min_greedy_logit_gap: float  # top-1 vs top-2 logit over the 8 greedy steps


def greedy_generation_config() -> transformers.GenerationConfig:
    # eos/bos/pad all None: nothing stops or suppresses tokens, so the 8 new
    # tokens are plain argmax (min_new_tokens=8 is then a no-op but harmless).
    return transformers.GenerationConfig(
        do_sample=False,
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        eos_token_id=None,
        pad_token_id=None,
        bos_token_id=None,
        use_cache=True,
        return_dict_in_generate=True,
        output_logits=True,
        output_scores=True,
    )


@torch.no_grad()
def measure(model, fam: Family, input_ids: torch.Tensor) -> Measurement:
    """Prefill logits + router capture + greedy decoding on an fp32 model."""
    cfg = fam.config
    T = input_ids.shape[1]
    k = getattr(cfg, "num_experts_per_tok", 0) or 0

    cap = RouterCapture(model, fam)
    logits = model(input_ids).logits[0].float()  # [T, vocab]
    prefill_records = cap.records
    cap.reset()

    experts, score_gaps, logit_gaps = [], [float("inf")], [float("inf")]
    for li, recs in enumerate(prefill_records):
        if cap.routers[li] is None:
            assert not recs
            experts.append([])
            continue
        assert len(recs) == 1, (li, len(recs))
        r = recs[0]
        assert r.indices.shape == (T, k), r.indices.shape
        experts.append([[int(e) for e in row] for row in r.indices.tolist()])
        score_gaps.append(topk_gap(r.scores, k).min().item())
        if r.logits is not None:
            logit_gaps.append(topk_gap(r.logits, k).min().item())

    # Greedy decoding (KV cache). Replace the model's generation config so the
    # checkpoint's eos (Mixtral: 2) is not merged back in.
    model.generation_config = greedy_generation_config()
    gen = model.generate(input_ids, attention_mask=torch.ones_like(input_ids))
    decode_records = cap.records
    cap.remove()
    new_tokens = [int(t) for t in gen.sequences[0, T:].tolist()]
    assert len(new_tokens) == NEW_TOKENS, new_tokens
    raw = torch.stack([x[0].float() for x in gen.logits])  # [8, vocab]
    processed = torch.stack([x[0].float() for x in gen.scores])
    assert torch.equal(raw, processed), "a logits processor changed the scores"
    assert raw.argmax(-1).tolist() == new_tokens, "generate is not plain argmax"
    assert torch.allclose(raw[0], logits[-1], atol=1e-5, rtol=0), "generate's prefill != forward"
    top2 = torch.topk(raw, 2, dim=-1).values
    greedy_gap = (top2[:, 0] - top2[:, 1]).min().item()

    decode_gaps = [float("inf")]
    for recs in decode_records:
        for r in recs:
            decode_gaps.append(topk_gap(r.scores, k).min().item())
            if r.logits is not None:
                logit_gaps.append(topk_gap(r.logits, k).min().item())

    # Teacher-forced check: one full forward over prompt+generated reproduces
    # the KV-cache decode.
    full = model(gen.sequences[:, :-1]).logits[0]
    assert full[T - 1 :].argmax(-1).tolist() == new_tokens, "KV-cache decode != full-forward argmax"

    return Measurement(
        logits=logits,
        experts=experts,
        new_tokens=new_tokens,
        min_router_gap_prefill=min(score_gaps),
        min_router_gap_decode=min(decode_gaps),
        min_router_logit_gap=min(logit_gaps),
        min_greedy_logit_gap=greedy_gap,
    )


def acceptable(m: Measurement) -> bool:
    return (
        m.min_router_gap_prefill > ROUTER_GAP_MIN
        and m.min_router_gap_decode > ROUTER_GAP_MIN
        and m.min_router_logit_gap > ROUTER_LOGIT_GAP_MIN
        and m.min_greedy_logit_gap > GREEDY_GAP_MIN
    )


def fp32_twin(fam: Family, bf16_model) -> torch.nn.Module:
    """Fresh fp32 module holding the bf16 weights upcast (not bf16_model.float():
    that would keep the RoPE inv_freq buffer rounded to bf16)."""
    m = fam.model_cls(fam.config).eval()
    m.load_state_dict({k: v.float() for k, v in bf16_model.state_dict().items()}, strict=True)
    m.set_attn_implementation("eager")
    if any(r is not None for r in fam.routers(m)):
        m.set_experts_implementation("eager")
    return m


def try_seed(name: str, fam: Family, seed: int, out_dir: str, tmp_root: str) -> dict | None:
    cfg = fam.config
    vocab = cfg.vocab_size

    # 1. fp32 model with our own init, then bf16 (= what goes on disk).
    torch.manual_seed(seed)
    model = fam.model_cls(cfg).eval()
    reinit_parameters(model, fam, seed)
    if fam.post_init is not None:
        fam.post_init(model, seed)
    model = model.to(torch.bfloat16)

    # Prompt ids: fixed-seed draw from [0, vocab).
    ids = torch.randint(0, vocab, (fam.prompt_len,), generator=torch.Generator().manual_seed(seed))
    input_ids = ids[None, :]

    # 2. Cheap screen on the in-memory weights before writing anything.
    screen = measure(fp32_twin(fam, model), fam, input_ids)
    stats = dict(
        seed=seed,
        logits_std=screen.logits.std().item(),
        logits_absmax=screen.logits.abs().max().item(),
        min_router_gap_prefill=screen.min_router_gap_prefill,
        min_router_gap_decode=screen.min_router_gap_decode,
        min_router_logit_gap=screen.min_router_logit_gap,
        min_greedy_logit_gap=screen.min_greedy_logit_gap,
    )
    if not acceptable(screen):
        print(f"  seed {seed} rejected: " + fmt_stats(stats))
        return None

    # 3. save_pretrained into scratch, check / fix the on-disk layout.
    save_dir = os.path.join(tmp_root, f"{name}-{seed}")
    model.save_pretrained(save_dir, safe_serialization=True)
    expected_disk = fam.disk_layout({k: v.detach().clone() for k, v in model.state_dict().items()})
    stats["rewritten"] = check_or_fix_layout(os.path.join(save_dir, "model.safetensors"), expected_disk)
    if fam.patch_config is not None:
        with open(os.path.join(save_dir, "config.json")) as f:
            saved_cfg = json.load(f)
        fam.patch_config(saved_cfg)
        with open(os.path.join(save_dir, "config.json"), "w") as f:
            json.dump(saved_cfg, f, indent=2, sort_keys=True)
            f.write("\n")

    # 4. Ship exactly config.json + model.safetensors; reload from there.
    os.makedirs(out_dir, exist_ok=True)
    for fn in os.listdir(out_dir):
        p = os.path.join(out_dir, fn)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    for fn in FILES_FROM_SAVE:
        shutil.copyfile(os.path.join(save_dir, fn), os.path.join(out_dir, fn))
    ref = load_reference_model(fam, out_dir)
    ref_sd = ref.state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(ref_sd[k], v.float()), f"reload changed {k}"

    # 5. The reference: everything recorded comes from the reloaded model.
    m = measure(ref, fam, input_ids)
    # Round trip (incl. any per-expert split/rename) must be exact.
    assert torch.equal(m.logits, screen.logits), (m.logits - screen.logits).abs().max().item()
    assert m.experts == screen.experts and m.new_tokens == screen.new_tokens
    assert acceptable(m)

    exp_dir = os.path.join(out_dir, "expected")
    os.makedirs(exp_dir, exist_ok=True)
    prompt = [int(i) for i in ids.tolist()]
    with open(os.path.join(exp_dir, "ids.json"), "w") as f:
        json.dump(prompt, f)
        f.write("\n")
    arr = np.ascontiguousarray(m.logits.numpy().astype("<f4"))
    assert arr.shape == (fam.prompt_len, vocab)
    np.save(os.path.join(exp_dir, "prefill_logits.npy"), arr, allow_pickle=False)
    with open(os.path.join(exp_dir, "experts.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(layer) for layer in m.experts) + "\n]\n")
    with open(os.path.join(exp_dir, "greedy.json"), "w") as f:
        json.dump({"prompt": prompt, "new_tokens": m.new_tokens}, f)
        f.write("\n")
    versions = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
        "seed": seed,
        "attn_implementation": "eager",
        "experts_implementation": "eager",
        "dtype_reference": "float32",
        "weights_dtype_on_disk": "bfloat16",
        **fam.versions_extra,
    }
    with open(os.path.join(exp_dir, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")
    return stats


def fmt_stats(stats: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in stats.items())


def build_fixture(name: str, out_root: str, tmp_root: str) -> dict:
    fam = REGISTRY[name]()
    out_dir = os.path.join(out_root, name)
    for seed in range(fam.base_seed, fam.base_seed + MAX_SEED_TRIES):
        stats = try_seed(name, fam, seed, out_dir, tmp_root)
        if stats is not None:
            print(f"{name}: seed {seed} accepted: " + fmt_stats(stats))
            describe(out_dir)
            return stats
    raise RuntimeError(f"{name}: no acceptable seed in {MAX_SEED_TRIES} tries")


def describe(out_dir: str):
    meta, tensors = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    print(f"  metadata={meta}, {len(tensors)} tensors, {os.path.getsize(os.path.join(out_dir, 'model.safetensors'))} bytes")
    for k in sorted(tensors):
        print(f"    {k} {list(tensors[k].shape)} {tensors[k].dtype}")


# --------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------
def _decoder_layers(model):
    return list(model.model.layers)


def _mlp_gate_routers(router_cls):
    def routers(model):
        out = []
        for layer in _decoder_layers(model):
            gate = getattr(layer.mlp, "gate", None)
            out.append(gate if isinstance(gate, router_cls) else None)
        return out

    return routers


@register("mixtral-tiny")
def mixtral_tiny() -> Family:
    from transformers import MixtralConfig, MixtralForCausalLM
    from transformers.models.mixtral import modeling_mixtral as mm

    cfg = MixtralConfig(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=96,
        num_local_experts=4,
        num_experts_per_tok=2,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        max_position_embeddings=256,
        sliding_window=None,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
    )
    router_cls = mm.MixtralTopKRouter

    def disk_layout(sd):
        # released: model.layers.N.block_sparse_moe.{gate,experts.e.w1/w2/w3}
        ren = lambda k: re.sub(r"\.mlp(\.|$)", r".block_sparse_moe\1", k)
        return split_fused_experts(sd, r"(model\.layers\.\d+\.mlp)", ("w1", "w3", "w2"), rename=ren)

    return Family(
        config=cfg,
        model_cls=MixtralForCausalLM,
        routers=_mlp_gate_routers(router_cls),
        router_record=softmax_topk_router_record,
        disk_layout=disk_layout,
        base_seed=1118,  # first acceptable seed of a search from 1000 (see try_seed)
        weight_std=0.2,
        is_router=lambda m: isinstance(m, router_cls),
    )


@register("qwen3-moe-tiny")
def qwen3_moe_tiny() -> Family:
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM
    from transformers.models.qwen3_moe import modeling_qwen3_moe as qm

    cfg = Qwen3MoeConfig(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        intermediate_size=96,
        moe_intermediate_size=48,
        num_experts=8,
        num_experts_per_tok=2,
        norm_topk_prob=True,
        decoder_sparse_step=1,
        mlp_only_layers=[],
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=256,
        use_sliding_window=False,
        attention_bias=False,
        tie_word_embeddings=False,
    )
    router_cls = qm.Qwen3MoeTopKRouter

    def disk_layout(sd):
        return split_fused_experts(sd, r"(model\.layers\.\d+\.mlp)", ("gate_proj", "up_proj", "down_proj"))

    return Family(
        config=cfg,
        model_cls=Qwen3MoeForCausalLM,
        routers=_mlp_gate_routers(router_cls),
        router_record=softmax_topk_router_record,
        disk_layout=disk_layout,
        base_seed=4040,  # first acceptable seed of a search from 2000 (see try_seed)
        weight_std=0.2,
        is_router=lambda m: isinstance(m, router_cls),
    )


@register("qwen3-tiny")
def qwen3_tiny() -> Family:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    cfg = Qwen3Config(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        intermediate_size=96,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=256,
        use_sliding_window=False,
        attention_bias=False,
        tie_word_embeddings=True,
    )

    def disk_layout(sd):
        # tied: lm_head.weight is not stored
        return {k: v.contiguous() for k, v in sd.items() if k != "lm_head.weight"}

    return Family(
        config=cfg,
        model_cls=Qwen3ForCausalLM,
        routers=lambda model: [None] * len(_decoder_layers(model)),
        router_record=softmax_topk_router_record,
        disk_layout=disk_layout,
        base_seed=3001,  # first acceptable seed of a search from 3000 (see try_seed)
        weight_std=0.2,
    )


# --------------------------------------------------------------------------
def load_family_modules():
    """Imports tools/fixture_families/*.py: one file per further family, each registering its
    builders with @register, so a family is added without editing this file."""
    import glob
    import importlib.util

    sys.modules.setdefault("make_fixtures", sys.modules[__name__])  # one REGISTRY when run as a script
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture_families")
    for path in sorted(glob.glob(os.path.join(here, "*.py"))):
        name = "fixture_families." + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # tools/make_vision_fixture.py reuses fixture_families.llama4
        spec.loader.exec_module(module)


load_family_modules()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/data/models", help="output root (one subdirectory per fixture)")
    ap.add_argument("--only", action="append", choices=sorted(REGISTRY), help="build only this fixture (repeatable)")
    args = ap.parse_args(argv)

    setup_torch()
    transformers.logging.set_verbosity_error()
    names = args.only or list(REGISTRY)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}, python {platform.python_version()}")
    summary = {}
    with tempfile.TemporaryDirectory(prefix="templlm-fixtures-") as tmp_root:
        for name in names:
            print(f"== {name}")
            summary[name] = build_fixture(name, args.out, tmp_root)
    print("== summary")
    for name, s in summary.items():
        print(f"{name}: " + json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
