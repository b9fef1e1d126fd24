"""Qwen2-MoE (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B) tiny fixture, for the out-of-tree example
(examples/out_of_tree): its shared expert is gated, sigmoid(shared_expert_gate(x)) *
shared_expert(x), a mechanism the library does not implement; the example adds it in its own
project. Softmax top-2 of 4 without renormalisation (norm_topk_prob false), q/k/v biases."""

import re

from make_fixtures import Family, register, softmax_topk_router_record, split_fused_experts


@register("qwen2-moe-tiny")
def qwen2_moe_tiny() -> Family:
    import torch
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM
    from transformers.models.qwen2_moe import modeling_qwen2_moe as qm

    cfg = Qwen2MoeConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        moe_intermediate_size=32,
        shared_expert_intermediate_size=80,
        num_experts=4,
        num_experts_per_tok=2,
        norm_topk_prob=False,
        decoder_sparse_step=1,
        mlp_only_layers=[],
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=256,
        use_sliding_window=False,
        tie_word_embeddings=False,
    )
    router_cls = qm.Qwen2MoeTopKRouter

    def is_router(m) -> bool:
        # The router, and the biased q/k/v projections (their 1-D biases need a rule).
        return isinstance(m, router_cls) or (isinstance(m, torch.nn.Linear) and m.bias is not None)

    def disk_layout(sd):
        # released: model.layers.N.mlp.{gate, experts.E.{gate,up,down}_proj, shared_expert.*,
        # shared_expert_gate}.weight
        return split_fused_experts(sd, r"(model\.layers\.\d+\.mlp)", ("gate_proj", "up_proj", "down_proj"))

    return Family(
        config=cfg,
        model_cls=Qwen2MoeForCausalLM,
        routers=lambda model: [l.mlp.gate for l in model.model.layers],
        router_record=softmax_topk_router_record,
        disk_layout=disk_layout,
        base_seed=9501,  # first acceptable seed of a search from 9000 (see try_seed)
        weight_std=0.2,
        is_router=is_router,
    )
