#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Records Hugging Face reference outputs for templlm's tokenizer tests.

Reads tests/data/tokenizers/corpus.txt (one sample per line; the escapes \\n \\r \\t and \\u{XXXX}
are turned into the characters they name) and, for each tokenizer folder under
tests/data/tokenizers/, writes hf_fixtures.jsonl: per sample the HF `tokenizers` ids without and
with special tokens and the decodes. The last record is the whole corpus as one document. Invalid
UTF-8 cases (INVALID_UTF8 below) are repaired as Python's bytes.decode("utf-8", "replace") does,
which is what a caller of the Python binding must do, then encoded.

Chat renders go to tests/data/tokenizers/chat/<family>.jsonl:
  qwen3, deepseek_v3, llama3_1: transformers' apply_chat_template with the chat_template of the
    folder's tokenizer_config.json;
  harmony: the openai-harmony package (OpenAI's renderer), with the o200k vocabulary rebuilt from
    gptoss/tokenizer.json so that it runs offline.
Versions go to tests/data/tokenizers/fixture_versions.json.

Usage: python3 tools/make_tokenizer_fixtures.py   (needs: tokenizers transformers jinja2 openai-harmony)
"""
import base64
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "tokenizers"
NAMES = ["gptoss", "qwen3", "deepseek_v3", "llama3_1", "mistral"]

INVALID_UTF8 = [
    "ff", "c0af", "e282", "e282ac", "f09f98", "f09f9880", "eda080", "f4908080", "80", "bf80bf",
    "48656c6c6fff776f726c64", "e4bda0e5a5bde4", "c3", "20c320", "fe ff".replace(" ", ""),
    "61e2808262", "f0808080", "3c7c656e646f66746578747c3eff",
]


def unescape(line):
    line = re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: chr(int(m.group(1), 16)), line)
    return line.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


def corpus():
    lines = (DATA / "corpus.txt").read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    texts = [unescape(l) for l in lines]
    return texts + ["\n".join(texts)]


def tokenizer_fixtures():
    from tokenizers import Tokenizer
    texts = corpus()
    for name in NAMES:
        tok = Tokenizer.from_file(str(DATA / name / "tokenizer.json"))
        with open(DATA / name / "hf_fixtures.jsonl", "w", encoding="utf-8") as f:
            for t in texts:
                ids = tok.encode(t, add_special_tokens=False).ids
                ids_sp = tok.encode(t, add_special_tokens=True).ids
                rec = {"text": t, "ids": ids, "ids_special": ids_sp,
                       "decoded": tok.decode(ids, skip_special_tokens=False),
                       "decoded_skip_special": tok.decode(ids_sp, skip_special_tokens=True)}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            for h in INVALID_UTF8:
                t = bytes.fromhex(h).decode("utf-8", "replace")
                rec = {"hex": h, "text": t, "ids": tok.encode(t, add_special_tokens=False).ids}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")


CONVERSATIONS = [
    {"name": "single_user", "messages": [{"role": "user", "content": "Hello!"}]},
    {"name": "system_user", "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"}]},
    {"name": "multi_turn", "messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Another one, please.\nThanks!"}]},
    {"name": "reasoning_history", "messages": [
        {"role": "user", "content": "Is 9 prime?"},
        {"role": "assistant", "content": "<think>\n9 = 3*3.\n</think>\n\nNo, 9 = 3 x 3."},
        {"role": "user", "content": "And 11?"}]},
    {"name": "unicode_and_spaces", "messages": [
        {"role": "user", "content": "  Bonjour, ça va ? 你好 😀  "}]},
    {"name": "ends_with_assistant", "messages": [
        {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": "Hi!"}]},
]


def jinja_renders(name, family, variants):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(DATA / name))
    out = []
    for conv in CONVERSATIONS:
        for opts in variants:
            kwargs = dict(opts)
            text = tok.apply_chat_template(conv["messages"], tokenize=False, **kwargs)
            out.append({"name": conv["name"], "messages": conv["messages"], "options": opts,
                        "rendered": text})
    write_chat(family, out)


def harmony_renders():
    import openai_harmony as oh
    with tempfile.TemporaryDirectory() as d:
        vocab = json.load(open(DATA / "gptoss" / "tokenizer.json", encoding="utf-8"))["model"]["vocab"]
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        inv = {chr(c): b for b, c in zip(bs, cs)}
        with open(os.path.join(d, "o200k_base.tiktoken"), "w") as f:
            for t, i in sorted(vocab.items(), key=lambda x: x[1]):
                f.write(base64.b64encode(bytes(inv[c] for c in t)).decode() + f" {i}\n")
        os.environ["TIKTOKEN_ENCODINGS_BASE"] = d
        enc = oh.load_harmony_encoding(oh.HarmonyEncodingName.HARMONY_GPT_OSS)
        efforts = {"low": oh.ReasoningEffort.LOW, "medium": oh.ReasoningEffort.MEDIUM,
                   "high": oh.ReasoningEffort.HIGH}
        out = []
        for conv in CONVERSATIONS:
            for effort in ["low", "medium", "high"]:
                msgs = [oh.Message.from_role_and_content(
                    oh.Role.SYSTEM, oh.SystemContent.new().with_reasoning_effort(efforts[effort])
                    .with_conversation_start_date("2025-06-28"))]
                for m in conv["messages"]:
                    if m["role"] in ("system", "developer"):
                        msgs.append(oh.Message.from_role_and_content(
                            oh.Role.DEVELOPER, oh.DeveloperContent.new().with_instructions(m["content"])))
                    elif m["role"] == "user":
                        msgs.append(oh.Message.from_role_and_content(oh.Role.USER, m["content"]))
                    else:
                        content = m["content"].split("</think>")[-1].lstrip("\n")
                        msgs.append(oh.Message.from_role_and_content(oh.Role.ASSISTANT, content)
                                    .with_channel("final"))
                toks = enc.render_conversation_for_completion(oh.Conversation.from_messages(msgs),
                                                              oh.Role.ASSISTANT)
                out.append({"name": conv["name"], "messages": conv["messages"],
                            "options": {"reasoning": effort, "date": "2025-06-28"},
                            "rendered": enc.decode(toks)})
        out.append({"name": "stop_tokens", "messages": [], "options": {},
                    "rendered": "", "stop": enc.stop_tokens_for_assistant_actions()})
        write_chat("harmony", out)


def write_chat(family, records):
    (DATA / "chat").mkdir(exist_ok=True)
    with open(DATA / "chat" / f"{family}.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    import importlib.metadata as md
    tokenizer_fixtures()
    jinja_renders("qwen3", "qwen3", [{"add_generation_prompt": True},
                                     {"add_generation_prompt": True, "enable_thinking": False},
                                     {"add_generation_prompt": False}])
    jinja_renders("deepseek_v3", "deepseek_v3", [{"add_generation_prompt": True},
                                                 {"add_generation_prompt": False}])
    jinja_renders("llama3_1", "llama3_1", [{"add_generation_prompt": True},
                                           {"add_generation_prompt": False}])
    harmony_renders()
    versions = {p: md.version(p) for p in ["tokenizers", "transformers", "jinja2", "openai-harmony"]}
    versions["python"] = sys.version.split()[0]
    (DATA / "fixture_versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    print(versions)


if __name__ == "__main__":
    main()
