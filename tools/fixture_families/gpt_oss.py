"""GPT-OSS tiny fixture (model::GptOssTiny): MXFP4 experts in the released layout.

The checkpoint is what OpenAI released, scaled down: bf16 everywhere except the experts, which
are MXFP4 (`mlp.experts.{gate_up,down}_proj_blocks [E, rows, in/32, 16]` U8, low nibble = even
column, and `_scales [E, rows, in/32]` U8 E8M0), with bf16 `*_bias`, sinks and router
weight + bias; `config.json` carries the release's `quantization_config`.

The random expert weights are quantised here (per 32 inputs: the smallest E8M0 scale that fits
the group's max in 6 * 2^e, then the nearest E2M1 code), and the in-memory model is given
exactly the dequantised values before anything is measured. The reference reloads the written
checkpoint with `Mxfp4Config(dequantize=True)` in fp32, and try_seed asserts that the
dequantised tensors equal the in-memory ones bit for bit (which checks the nibble order, the
scales and the gate/up interleave of the rows against transformers' own dequantiser).
"""

from __future__ import annotations

import torch

from make_fixtures import Family, RouterRecord, register

FP4_VALUES = torch.tensor(
    [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
    dtype=torch.float32,
)

# Same list as the released gpt-oss config.json files.
MODULES_NOT_CONVERTED = [
    "model.layers.*.self_attn",
    "model.layers.*.mlp.router",
    "model.embed_tokens",
    "lm_head",
]

SINK_STD = 1.5  # attention logits are O(5) with the scaled weights; sinks of that order matter
GATE_UP_STD = 0.5  # large enough that the 7.0 clamps of gate (above) and up (both sides) bite
DOWN_STD = 0.2


def quantize_mxfp4(w_out_in: torch.Tensor):
    """w [E, rows, in] fp32 -> (blocks [E, rows, in/32, 16] u8, scales [E, rows, in/32] u8,
    dequantised [E, rows, in] fp32)."""
    E, R, K = w_out_in.shape
    assert K % 32 == 0
    g = w_out_in.reshape(E, R, K // 32, 32)
    amax = g.abs().amax(-1)
    # smallest e with amax <= 6 * 2^e
    e = torch.ceil(torch.log2(torch.clamp(amax, min=1e-30) / 6.0))
    e = torch.where(amax > 0, e, torch.full_like(e, -10.0)).clamp(-127, 127)
    scaled = g / torch.exp2(e)[..., None]
    # nearest code (ties: the lower code index, i.e. deterministic)
    dist = (scaled[..., None] - FP4_VALUES).abs()
    codes = dist.argmin(-1).to(torch.uint8)  # [E,R,G,32]
    deq = FP4_VALUES[codes.long()] * torch.exp2(e)[..., None]
    lo, hi = codes[..., 0::2], codes[..., 1::2]
    blocks = (lo | (hi << 4)).to(torch.uint8).contiguous()
    scales = (e + 127).to(torch.uint8).contiguous()
    return blocks, scales, deq.reshape(E, R, K)


def dequantize_mxfp4(blocks: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Independent decoder, [E, rows, G, 16] + [E, rows, G] -> [E, rows, G*32]."""
    lo = (blocks & 0x0F).long()
    hi = (blocks >> 4).long()
    vals = torch.stack([FP4_VALUES[lo], FP4_VALUES[hi]], dim=-1).reshape(*blocks.shape[:-1], 32)
    vals = torch.ldexp(vals, scales.to(torch.int32)[..., None] - 127)
    return vals.reshape(*blocks.shape[:-2], -1)


@register("gpt-oss-tiny")
def gpt_oss_tiny() -> Family:
    from transformers import GptOssConfig, GptOssForCausalLM, Mxfp4Config
    from transformers.models.gpt_oss import modeling_gpt_oss as gm

    cfg = GptOssConfig(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=64,
        num_local_experts=8,
        num_experts_per_tok=4,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention"] * 2,
        rope_parameters={
            "rope_type": "yarn",
            "rope_theta": 150000.0,
            "factor": 32.0,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "truncate": False,
            "original_max_position_embeddings": 4096,
        },
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        swiglu_limit=7.0,
        attention_bias=True,
        tie_word_embeddings=False,
    )
    router_cls = gm.GptOssTopKRouter
    packed: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def init_param(full, module, p, noise):
        if isinstance(module, gm.GptOssAttention) and full.endswith(".sinks"):
            p.copy_(SINK_STD * noise)
            return True
        if isinstance(module, torch.nn.Linear) and full.endswith(".bias"):
            p.copy_(0.2 * noise)
            return True
        if isinstance(module, gm.GptOssExperts):
            std = {"gate_up_proj": GATE_UP_STD, "down_proj": DOWN_STD}.get(full.rsplit(".", 1)[1], 0.2)
            p.copy_(std * noise)
            return True
        return False

    @torch.no_grad()
    def post_init(model, seed):
        packed.clear()
        for name, mod in model.named_modules():
            if not isinstance(mod, gm.GptOssExperts):
                continue
            for proj in ("gate_up_proj", "down_proj"):
                p = getattr(mod, proj)  # HF in-memory [E, in, out]
                blocks, scales, deq = quantize_mxfp4(p.data.transpose(1, 2).contiguous())
                assert torch.equal(dequantize_mxfp4(blocks, scales), deq)
                p.copy_(deq.transpose(1, 2))
                packed[f"{name}.{proj}"] = (blocks, scales)

    def disk_layout(sd):
        out = {}
        for k, v in sd.items():
            if k in packed:
                blocks, scales = packed[k]
                # the bf16 in-memory values are exactly the dequantised ones
                assert torch.equal(dequantize_mxfp4(blocks, scales).transpose(1, 2), v.float()), k
                out[k + "_blocks"] = blocks
                out[k + "_scales"] = scales
            else:
                out[k] = v
        assert len(out) == len(sd) + len(packed)
        return {k: t.contiguous() for k, t in out.items()}

    def patch_config(c):
        c["quantization_config"] = {
            "quant_method": "mxfp4",
            "modules_to_not_convert": MODULES_NOT_CONVERTED,
        }

    def router_record(module, inputs, output):
        logits, _weights, indices = output  # top-k on the raw logits
        return RouterRecord(
            indices=indices.detach().clone(),
            scores=logits.detach().float().clone(),
            logits=logits.detach().float().clone(),
        )

    return Family(
        config=cfg,
        model_cls=GptOssForCausalLM,
        routers=lambda model: [layer.mlp.router for layer in model.model.layers],
        router_record=router_record,
        disk_layout=disk_layout,
        base_seed=5082,  # first acceptable seed of a search from 5000 (see try_seed)
        weight_std=0.2,
        is_router=lambda m: isinstance(m, router_cls),
        prompt_len=24,
        init_param=init_param,
        post_init=post_init,
        patch_config=patch_config,
        load_kwargs=lambda: {"quantization_config": Mxfp4Config(dequantize=True)},
        versions_extra={
            "weights_dtype_on_disk": "bfloat16; experts MXFP4 (u8 blocks + E8M0 scales)",
            "reference_quantization": "Mxfp4Config(dequantize=True)",
        },
    )
