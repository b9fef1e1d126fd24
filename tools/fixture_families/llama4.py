"""Llama 4 tiny fixtures: llama4-scout-tiny and llama4-maverick-tiny (include/templlm/model/llama4.hpp).

Both are saved as `Llama4ForConditionalGeneration` with a tiny vision tower, i.e. the released
multimodal layout: text tensors under `language_model.model.` / `language_model.lm_head.weight`,
experts fused and stored [in, out] (`experts.gate_up_proj [E, H, 2I]`, gate columns first;
`experts.down_proj [E, I, H]`), vision tensors under `vision_model.` / `multi_modal_projector.`.
transformers 5.24 keeps Llama 4's experts fused in memory and writes exactly that layout, which
`disk_layout` asserts (the identity); `check_or_fix_layout` would rewrite the file otherwise.

`attention_chunk_size` = `floor_scale` = 8 and 24-token prompts: the RoPE layers' chunked mask
cuts the prompt into three chunks and the NoPE layers' temperature factor takes three values
(positions 0-6, 7-14, 15-22 and 23), so both mechanisms change the logits. The reference runs the
whole multimodal model on text ids (the vision tower is not run without pixel values).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from make_fixtures import Family, RouterRecord, register

PROMPT_LEN_LLAMA4 = 24  # three chunks of 8
CHUNK = 8
FLOOR_SCALE = 8

# A vision tower small enough to cost nothing; its weights are in the file but never run.
VISION = dict(
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    image_size=28,
    patch_size=14,
    vision_output_dim=32,
    projector_input_dim=32,
    projector_output_dim=32,
    pixel_shuffle_ratio=0.5,
)


def _text_common(**kw):
    base = dict(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=64,
        attention_chunk_size=CHUNK,
        attn_temperature_tuning=True,
        floor_scale=FLOOR_SCALE,
        attn_scale=0.1,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        max_position_embeddings=256,
        no_rope_layers=[1, 1, 1, 0],  # NoPE on layer 3 (every fourth)
        attention_bias=False,
        tie_word_embeddings=False,
        num_experts_per_tok=1,
    )
    base.update(kw)
    return base


def _config(text: dict):
    from transformers import Llama4Config

    cfg = Llama4Config(text_config=text, vision_config=dict(VISION), tie_word_embeddings=False)
    # make_fixtures reads these two from the top-level config object; patch_config removes them
    # from the saved config.json again (the released file has them under text_config only).
    cfg.vocab_size = text["vocab_size"]
    cfg.num_experts_per_tok = text["num_experts_per_tok"]
    return cfg


def _patch_config(saved: dict):
    saved.pop("vocab_size", None)
    saved.pop("num_experts_per_tok", None)


def _routers(model):
    from transformers.models.llama4 import modeling_llama4 as lm

    out = []
    text_model = getattr(model, "language_model", model)  # multimodal or Llama4ForCausalLM
    for layer in text_model.model.layers:
        ff = layer.feed_forward
        out.append(ff.router if isinstance(ff, lm.Llama4TextMoe) else None)
    return out


def _router_record(module, inputs, output) -> RouterRecord:
    # Llama4Router returns (sigmoid scores scattered over top-k, raw logits). The choice is top-1
    # on the raw logits, so the tie screen runs on them: the sigmoid saturates for large logits
    # and would turn a clear choice (logits 8 vs 9) into a "near tie" of probabilities.
    _scores, logits = output
    logits = logits.detach().float()
    idx = torch.topk(logits, module.top_k, dim=1).indices
    return RouterRecord(indices=idx.clone(), scores=logits.clone(), logits=logits.clone())


def _is_router(m) -> bool:
    from transformers.models.llama4 import modeling_llama4 as lm

    return isinstance(m, lm.Llama4Router)


def _init_param(full, module, p, noise) -> bool:
    # Vision tower / projector: never run on text ids; small values, including its biases,
    # LayerNorms and class embedding (1-D parameters the generic rules do not cover).
    if full.startswith("vision_model.") or full.startswith("multi_modal_projector."):
        p.copy_(0.02 * noise)
        return True
    return False


def _disk_layout(sd: dict) -> dict:
    # The released checkpoint layout is the in-memory layout of transformers 5.24 (see module doc).
    return {k: v.contiguous() for k, v in sd.items()}


def _text_only_forward_model():
    """Llama4ForConditionalGeneration whose forward, for text ids, calls the language model
    directly: transformers 5.24's multimodal forward builds its output with
    `outputs.image_outputs`, which the text model's output lacks (AttributeError on any call).
    Without pixel values the multimodal forward is exactly `language_model(inputs_embeds=
    embed_tokens(ids))`, so this is the same computation. Same class name, so save_pretrained
    writes `architectures: ["Llama4ForConditionalGeneration"]`."""
    from transformers import Llama4ForConditionalGeneration as Base

    def forward(self, input_ids=None, pixel_values=None, **kwargs):
        assert pixel_values is None
        for k in ("mm_encoder_outputs", "image_sizes", "vision_feature_select_strategy"):
            kwargs.pop(k, None)
        return self.language_model(input_ids=input_ids, **kwargs)

    return type("Llama4ForConditionalGeneration", (Base,), {"forward": forward})


def _family(text: dict, base_seed: int) -> Family:
    return Family(
        config=_config(text),
        model_cls=_text_only_forward_model(),
        routers=_routers,
        router_record=_router_record,
        disk_layout=_disk_layout,
        base_seed=base_seed,
        weight_std=0.2,
        is_router=_is_router,
        prompt_len=PROMPT_LEN_LLAMA4,
        init_param=_init_param,
        patch_config=_patch_config,
    )


@register("llama4-scout-tiny")
def llama4_scout_tiny() -> Family:
    text = _text_common(
        num_local_experts=4,
        interleave_moe_layer_step=1,
        intermediate_size_mlp=128,  # present in Scout's config, unused (no dense layers)
        use_qk_norm=True,
        rope_scaling=dict(
            rope_type="llama3",
            factor=16.0,
            low_freq_factor=1.0,
            high_freq_factor=1.0,
            original_max_position_embeddings=8192,
        ),
    )
    return _family(text, base_seed=5001)  # first acceptable seed from 5000


@register("llama4-maverick-tiny")
def llama4_maverick_tiny() -> Family:
    text = _text_common(
        num_local_experts=8,
        interleave_moe_layer_step=2,  # moe_layers = [1, 3]; layers 0, 2 dense
        intermediate_size_mlp=128,
        use_qk_norm=False,
        rope_scaling=None,
    )
    return _family(text, base_seed=6001)  # first acceptable seed from 6000


@register("llama4-scout-tiny-text")
def llama4_scout_tiny_text() -> Family:
    """The Scout-like twin saved text-only (`Llama4ForCausalLM`): tensors under `model.` and
    `lm_head.weight`, the text config at the top level of config.json (model_type llama4_text)."""
    from transformers import Llama4ForCausalLM, Llama4TextConfig

    fam = llama4_scout_tiny()
    text = _text_common(
        num_local_experts=4,
        interleave_moe_layer_step=1,
        intermediate_size_mlp=128,
        use_qk_norm=True,
        rope_scaling=dict(
            rope_type="llama3",
            factor=16.0,
            low_freq_factor=1.0,
            high_freq_factor=1.0,
            original_max_position_embeddings=8192,
        ),
    )
    fam.config = Llama4TextConfig(**text)
    fam.model_cls = Llama4ForCausalLM
    fam.init_param = None
    fam.patch_config = None
    fam.base_seed = 7001  # first acceptable seed from 7000
    return fam
