#!/usr/bin/env python3
"""Build the Llama 4 vision fixture: tests/data/models/llama4-scout-vision-tiny.

Usage:
    python3 tools/make_vision_fixture.py [--out tests/data/models]

A tiny random `Llama4ForConditionalGeneration` (Scout-like text model, as llama4-scout-tiny; a
vision tower small enough to cost nothing but with every mechanism: 56x56 tiles of 14x14
patches -> 16 patches + CLS per tile, two encoder layers, 2-D RoPE, pixel shuffle 0.5 -> 4
tokens per tile, the adapter MLP and the projector) in the released on-disk layout, a tiny
byte-level BPE tokenizer (vocab 496 + Llama 4's special tokens at 496..511) and the processor
the release ships (Llama4Processor + Llama4ImageProcessor, here with tile 56 and up to 4
tiles). Needs tests/data/images/wide.png and tall.jpg (tools/make_image_fixtures.py).

Recorded from the reloaded fp32 model (eager attention and experts), in <out>/<name>/expected/:
    chat.json               the messages, the processor's input_ids, aspect ratios, greedy tokens
    pixel_values.npy        float32 [tiles, 3, 56, 56], the processor's (bf16 values)
    vision_encoder.npy      float32 [tiles, 17, 32], the encoder's output after layernorm_post
    vision_adapter.npy      float32 [tiles * 4, 48], vision_model's output (after pixel shuffle + MLP)
    image_features.npy      float32 [tiles * 4, 64], multi_modal_projector's output
    prefill_logits.npy      float32 [T, 512], the whole chat in one forward
    decode_logits.npy       float32 [8, 512], the greedy steps after the prompt (KV cache)
    experts.json            per layer, per prompt position, the chosen expert
    versions.json

Weights are scaled up (vision std 0.2 on 32-wide layers, LayerNorm weights 1 + 0.3 N(0,1),
biases 0.2 N(0,1)) so that every vision mechanism moves the logits (tests/unit/models/
llama4_vision_test.cpp breaks each on purpose once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import torch

import make_fixtures as mf  # loads tools/fixture_families/*.py

l4 = sys.modules["fixture_families.llama4"]

NAME = "llama4-scout-vision-tiny"
TILE = 56
MAX_TILES = 4
VISION = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=128,  # = hidden / shuffle_ratio^2: the adapter's fc1 input
    image_size=TILE,
    patch_size=14,
    vision_output_dim=48,
    projector_input_dim=48,
    projector_output_dim=48,
    pixel_shuffle_ratio=0.5,
    norm_eps=1e-5,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
)
SPECIALS = [
    "<|begin_of_text|>", "<|end_of_text|>", "<|header_start|>", "<|header_end|>", "<|eom|>",
    "<|eot|>", "<|step|>", "<|python_start|>", "<|python_end|>", "<|finetune_right_pad|>",
    "<|image_start|>", "<|image_end|>", "<|image|>", "<|patch|>", "<|tile_x_separator|>",
    "<|tile_y_separator|>",
]
BASE_VOCAB = 512 - len(SPECIALS)
# Images first, as `templlm chat --image A --image B` puts them (tests/unit/cli/ runs that chat).
MESSAGES = [
    {"role": "user", "content": [
        {"type": "image"},
        {"type": "image"},
        {"type": "text", "text": "What is in these two pictures?"},
    ]},
]
IMAGES = ["wide.png", "tall.jpg"]


def build_tokenizer(path_dir: str, corpus: str):
    """A byte-level BPE trained on the tokenizer corpus, with Llama 3's pre-tokenizer (Llama 4's
    released tokenizer is the same kind: Split regex + ByteLevel) and Llama 4's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    ref = json.load(open(os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tokenizers",
                                      "llama3_1", "tokenizer.json")))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=__import__("tokenizers").Regex(
            ref["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BASE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator([corpus], trainer)
    assert tok.get_vocab_size() == BASE_VOCAB, tok.get_vocab_size()
    tok.add_special_tokens(SPECIALS)
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == BASE_VOCAB + i, s
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot|>",
                                   pad_token="<|finetune_right_pad|>")
    fast.save_pretrained(path_dir)
    return fast


def build_config():
    from transformers import Llama4Config

    text = l4._text_common(
        num_local_experts=4, interleave_moe_layer_step=1, intermediate_size_mlp=128, use_qk_norm=True,
        rope_scaling=dict(rope_type="llama3", factor=16.0, low_freq_factor=1.0, high_freq_factor=1.0,
                          original_max_position_embeddings=8192),
        bos_token_id=BASE_VOCAB, eos_token_id=BASE_VOCAB + SPECIALS.index("<|eot|>"),
        pad_token_id=BASE_VOCAB + SPECIALS.index("<|finetune_right_pad|>"),
    )
    cfg = Llama4Config(
        text_config=text, vision_config=dict(VISION), tie_word_embeddings=False,
        image_token_index=BASE_VOCAB + SPECIALS.index("<|patch|>"),
        boi_token_index=BASE_VOCAB + SPECIALS.index("<|image_start|>"),
        eoi_token_index=BASE_VOCAB + SPECIALS.index("<|image_end|>"),
    )
    cfg.vocab_size = text["vocab_size"]
    cfg.num_experts_per_tok = 1
    return cfg


def init_param(full, module, p, noise) -> bool:
    if not (full.startswith("vision_model.") or full.startswith("multi_modal_projector.")):
        return False
    if isinstance(module, torch.nn.LayerNorm):
        p.copy_((1.0 + 0.3 * noise) if full.endswith("weight") else 0.2 * noise)
    elif p.dim() == 1:  # linear biases, the class embedding
        p.copy_(0.2 * noise if full.endswith("bias") else noise)
    elif "positional_embedding" in full:
        p.copy_(noise)
    else:
        p.copy_(0.2 * noise)
    return True


def _model_cls():
    """Llama4ForConditionalGeneration whose forward is the multimodal forward written out:
    transformers 5.24's own builds its output with `outputs.image_outputs`, which the language
    model's output lacks (AttributeError on every call; see fixture_families/llama4.py). Same
    computation: the projected image features replace the embeddings of the image (patch)
    tokens, then the language model runs on the embeddings. Same class name, so save_pretrained
    writes `architectures: ["Llama4ForConditionalGeneration"]`."""
    from transformers import Llama4ForConditionalGeneration as Base

    def image_features(self, pixel_values):
        adapter = self.vision_model(pixel_values).last_hidden_state
        adapter = adapter.reshape(-1, adapter.shape[-1])
        return adapter, self.multi_modal_projector(adapter)

    def merged_embeddings(self, input_ids, pixel_values):
        emb = self.get_input_embeddings()(input_ids)
        _, feats = self.image_features(pixel_values)
        mask = (input_ids == self.config.image_token_id).unsqueeze(-1)
        assert int(mask.sum()) * emb.shape[-1] == feats.numel(), (int(mask.sum()), tuple(feats.shape))
        return emb.masked_scatter(mask, feats.to(emb.dtype))

    def forward(self, input_ids=None, pixel_values=None, **kwargs):
        for k in ("mm_encoder_outputs", "image_sizes", "vision_feature_select_strategy"):
            kwargs.pop(k, None)
        if pixel_values is None:
            return self.language_model(input_ids=input_ids, **kwargs)
        return self.language_model(inputs_embeds=self.merged_embeddings(input_ids, pixel_values), **kwargs)

    return type("Llama4ForConditionalGeneration", (Base,), {
        "forward": forward, "image_features": image_features, "merged_embeddings": merged_embeddings})


Model = _model_cls()


@torch.no_grad()
def run_reference(model, inputs, fam):
    ids = inputs["input_ids"]
    pixels = inputs["pixel_values"].float()
    vm = model.vision_model
    # Encoder output (after layernorm_post, CLS kept) by hooking layernorm_post.
    seen = {}
    h = vm.layernorm_post.register_forward_hook(lambda m, i, o: seen.__setitem__("enc", o.detach().clone()))
    adapter, feats = model.image_features(pixels)
    h.remove()
    cap = mf.RouterCapture(model, fam)
    logits = model(input_ids=ids, pixel_values=pixels).logits[0].float()
    experts = []
    T = ids.shape[1]
    for li, recs in enumerate(cap.records):
        if cap.routers[li] is None:
            experts.append([])
            continue
        assert len(recs) == 1
        gap = mf.topk_gap(recs[0].logits, 1).min().item()
        assert gap > mf.ROUTER_LOGIT_GAP_MIN, f"router near-tie in layer {li}: {gap}"
        experts.append([[int(e) for e in row] for row in recs[0].indices.tolist()])
        assert len(experts[-1]) == T
    cap.remove()
    # Greedy decode through the KV cache, after the image prompt.
    lm = model.language_model
    lm.generation_config = mf.greedy_generation_config()
    gen = lm.generate(input_ids=ids, inputs_embeds=model.merged_embeddings(ids, pixels),
                      attention_mask=torch.ones_like(ids))
    seq = gen.sequences[0].tolist()
    new = [int(t) for t in (seq[T:] if len(seq) > mf.NEW_TOKENS else seq)]
    assert len(new) == mf.NEW_TOKENS, seq
    raw = torch.stack([x[0].float() for x in gen.logits])
    assert raw.argmax(-1).tolist() == new
    assert torch.allclose(raw[0], logits[-1], atol=1e-5, rtol=0)
    top2 = torch.topk(raw, 2, dim=-1).values
    assert (top2[:, 0] - top2[:, 1]).min().item() > mf.GREEDY_GAP_MIN, "greedy near-tie"
    return dict(enc=seen["enc"], adapter=adapter, feats=feats, logits=logits,
                decode=raw, new=new, experts=experts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/data/models")
    ap.add_argument("--seed", type=int, default=8001)
    ap.add_argument("--images", default=None, help="folder of the test images (default tests/data/images)")
    args = ap.parse_args(argv)
    mf.setup_torch()
    import transformers
    from PIL import Image
    from transformers import Llama4ImageProcessor, Llama4Processor

    transformers.logging.set_verbosity_error()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    corpus = open(os.path.join(root, "tests", "data", "tokenizers", "corpus.txt")).read()
    image_dir = args.images or os.path.join(root, "tests", "data", "images")
    images = [Image.open(os.path.join(image_dir, f)) for f in IMAGES]
    out_dir = os.path.join(args.out, NAME)
    cfg = build_config()
    fam = mf.Family(config=cfg, model_cls=Model, routers=l4._routers, router_record=l4._router_record,
                    disk_layout=l4._disk_layout, is_router=l4._is_router, init_param=init_param,
                    patch_config=l4._patch_config, weight_std=0.2)
    with tempfile.TemporaryDirectory(prefix="templlm-vision-") as tmp:
        tok = build_tokenizer(tmp, corpus)
        processor = Llama4Processor(
            image_processor=Llama4ImageProcessor(size={"height": TILE, "width": TILE}, max_patches=MAX_TILES),
            tokenizer=tok, patch_size=VISION["patch_size"], pixel_shuffle_ratio=VISION["pixel_shuffle_ratio"])
        inputs = processor.apply_chat_template(MESSAGES, images=images, add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt")
        assert "pixel_values" in inputs, inputs.keys()
        for seed in range(args.seed, args.seed + 200):
            torch.manual_seed(seed)
            model = Model(cfg).eval()
            mf.reinit_parameters(model, fam, seed)
            model = model.to(torch.bfloat16)
            screen_model = mf.fp32_twin(fam, model)
            try:
                screen = run_reference(screen_model, inputs, fam)
            except AssertionError as e:
                print(f"  seed {seed} rejected: {e}")
                continue
            break
        else:
            raise RuntimeError("no acceptable seed")
        save = os.path.join(tmp, "save")
        model.save_pretrained(save, safe_serialization=True)
        expected_disk = fam.disk_layout({k: v.detach().clone() for k, v in model.state_dict().items()})
        mf.check_or_fix_layout(os.path.join(save, "model.safetensors"), expected_disk)
        with open(os.path.join(save, "config.json")) as f:
            saved = json.load(f)
        fam.patch_config(saved)
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(os.path.join(out_dir, "expected"))
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(saved, f, indent=2, sort_keys=True)
            f.write("\n")
        shutil.copyfile(os.path.join(save, "model.safetensors"), os.path.join(out_dir, "model.safetensors"))
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(tmp, fn), os.path.join(out_dir, fn))
        processor.image_processor.save_pretrained(out_dir)  # preprocessor_config.json, as released
    ref = mf.load_reference_model(fam, out_dir)
    m = run_reference(ref, inputs, fam)
    assert torch.equal(m["logits"], screen["logits"]) and m["new"] == screen["new"]
    exp = os.path.join(out_dir, "expected")
    save_np = lambda n, t: np.save(os.path.join(exp, n), np.ascontiguousarray(t.float().numpy().astype("<f4")),
                                   allow_pickle=False)
    save_np("pixel_values.npy", inputs["pixel_values"])
    save_np("vision_encoder.npy", m["enc"])
    save_np("vision_adapter.npy", m["adapter"])
    save_np("image_features.npy", m["feats"])
    save_np("prefill_logits.npy", m["logits"])
    save_np("decode_logits.npy", m["decode"])
    ids = [int(i) for i in inputs["input_ids"][0].tolist()]
    chat = {"messages": MESSAGES, "images": IMAGES, "input_ids": ids,
            "aspect_ratios": [[int(x) for x in r] for r in
                              processor.image_processor(images, return_tensors="pt")["aspect_ratios"].tolist()],
            "new_tokens": m["new"]}
    with open(os.path.join(exp, "chat.json"), "w") as f:
        json.dump(chat, f)
        f.write("\n")
    with open(os.path.join(exp, "experts.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(layer) for layer in m["experts"]) + "\n]\n")
    versions = {"transformers": transformers.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "python": platform.python_version(), "seed": seed, "attn_implementation": "eager",
                "dtype_reference": "float32", "weights_dtype_on_disk": "bfloat16"}
    with open(os.path.join(exp, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")
    print(f"{NAME}: seed {seed}, {len(ids)} prompt ids, pixel_values {tuple(inputs['pixel_values'].shape)}, "
          f"greedy {m['new']}, logits std {m['logits'].std().item():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
