"""Dense Qwen2 and Llama 3.1 tiny fixtures: the architectures of the DeepSeek-R1 distills
(design/architectures.md §6). Generic bf16 pipeline of make_fixtures.py."""

from make_fixtures import Family, register, softmax_topk_router_record


def _biased_linear(m) -> bool:
    # make_fixtures has no init rule for 1-D parameters outside norms; the "router" rule
    # (N(0, 0.5^2) for every parameter of the module) covers Qwen2's q/k/v weights and biases.
    import torch

    return isinstance(m, torch.nn.Linear) and m.bias is not None


def _dense(cfg, cls, seed):
    return Family(
        config=cfg, model_cls=cls, routers=lambda model: [None] * len(model.model.layers),
        router_record=softmax_topk_router_record,
        disk_layout=lambda sd: {k: v.contiguous() for k, v in sd.items()},
        base_seed=seed, weight_std=0.2, is_router=_biased_linear,
    )


@register("qwen2-tiny")
def qwen2_tiny() -> Family:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=96, rope_theta=10000.0, rms_norm_eps=1e-6,
                      max_position_embeddings=256, use_sliding_window=False, tie_word_embeddings=False)
    return _dense(cfg, Qwen2ForCausalLM, 6000)


@register("llama3-tiny")
def llama3_tiny() -> Family:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=96, rms_norm_eps=1e-5,
                      max_position_embeddings=256, tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
                      rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                           high_freq_factor=4.0, original_max_position_embeddings=32))
    return _dense(cfg, LlamaForCausalLM, 7000)
