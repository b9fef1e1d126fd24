#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the committed
test data: small valid inputs of every kind, from which libFuzzer mutates. Run from the repository
root; needs only the Python standard library. The seeds are committed; rerun after changing it."""
import json, struct, pathlib, hashlib

root = pathlib.Path(__file__).resolve().parents[2]
data = root / "tests" / "data"
out = root / "tests" / "fuzz" / "corpus"


def put(target, content):
    if isinstance(content, str):
        content = content.encode()
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(content).hexdigest()[:16]).write_bytes(content)


def safetensors(tensors, metadata=None, pad=True):
    header, blob = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob


# safetensors: the dtypes we read, metadata, an unpadded header, an empty file of tensors
put("safetensors", safetensors({"a": ("F32", [2], b"\0" * 8), "b": ("BF16", [1], b"\1\2")}))
put("safetensors", safetensors({"w": ("F8_E4M3", [2, 2], b"\x10" * 4), "s": ("F32", [1, 1], b"\0\0\x80?")},
                               metadata={"format": "pt"}))
put("safetensors", safetensors({"x": ("I64", [1], b"\0" * 8), "y": ("U8", [3], b"abc")}, pad=False))
put("safetensors", safetensors({"e": ("F16", [0, 4], b"")}))
put("safetensors", safetensors({}))

# index: the fuzz target's scratch shard holds "a" and "b" in model-00001-of-00001.safetensors
shard = "model-00001-of-00001.safetensors"
put("index", json.dumps({"metadata": {"total_size": 10}, "weight_map": {"a": shard, "b": shard}}))
put("index", json.dumps({"weight_map": {"a": shard}}))
put("index", json.dumps({"weight_map": {"a": shard, "b": "model-00002-of-00002.safetensors"}}))
put("index", json.dumps({"weight_map": {"a": "../" + shard}}))

# config: every fixture's config.json
for cfg in sorted((data / "models").glob("*/config.json")):
    put("config", cfg.read_bytes())

# tokenizer_json: each real tokenizer, cut to its first 200 vocabulary entries and the merges and
# added tokens that stay inside them (every normalizer, pre-tokenizer and decoder kept).
for tj in sorted((data / "tokenizers").glob("*/tokenizer.json")):
    t = json.loads(tj.read_text(encoding="utf-8"))
    vocab = t["model"]["vocab"]
    keep = {k: v for k, v in vocab.items() if v < 200}
    t["model"]["vocab"] = keep
    merges = []
    for m in t["model"].get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in keep and b in keep and (a + b) in keep:
            merges.append(m)
    t["model"]["merges"] = merges
    t["added_tokens"] = [a for a in t.get("added_tokens", []) if a["id"] < 200]
    t["post_processor"] = None if t.get("post_processor") and "special_tokens" in json.dumps(t["post_processor"]) else t.get("post_processor")
    put("tokenizer_json", json.dumps(t, ensure_ascii=False))

# encode: a tokenizer selector byte (0..4), a flags byte, then text from the tokenizer corpus
lines = (data / "tokenizers" / "corpus.txt").read_text(encoding="utf-8").splitlines()
for i, line in enumerate(lines[:20]):
    put("encode", bytes([i % 5, i % 2]) + line.encode())
put("encode", bytes([0, 1]) + "<|start|>assistant<|channel|>final<|message|>hi<|end|>".encode())
put("encode", bytes([2, 0]) + "<|im_start|>user\n你好<|im_end|>\n<think>\n</think>".encode())
put("encode", bytes([4, 1]) + b"\xf0\x9f\x98\x80 \xe2\x80\x8b\xc3(\xff")

# chat: generated replies for each format, and conversations as role NUL content NUL ...
for reply in [
    "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Hi!<|return|>",
    "<|channel|>commentary to=functions.get<|constrain|>json<|message|>{\"x\":1}<|call|>",
    "<think>\nreasoning\n</think>\n\nAnswer.<|im_end|>",
    "Some reasoning</think>The answer<｜end▁of▁sentence｜>",
    "Hello there.<|eot_id|>", "Hi<|eot|>", "Bonjour</s>", "<think>unclosed",
    # tool calls: Qwen3 (hermes blocks), Mistral v3 ([TOOL_CALLS] array), Llama 4 (JSON objects)
    "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>",
    "<tool_call>\n{\"name\": \"f\", \"arg",
    "[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": \"}\"}]}}]</s>",
    "<|python_start|>{\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\", \"parameters\": {\"q\": \"\\\"\"}}<|python_end|><|eot|>",
]:
    put("chat", reply)
put("chat", "system\0Be brief.\0user\0Hello!\0assistant\0Hi.\0user\0Bye")
put("chat", "user\0Hello!")
put("chat", "assistant\0first?\0user\0x")
