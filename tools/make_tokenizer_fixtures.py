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
    gptoss/tokenizer.json so that it runs offline;
  deepseek_r1, llama4, mistral_v1, mistral_v3: apply_chat_template with the released templates
    vendored in tools/chat_templates/ (README.md there names their sources), on the closest
    vendored tokenizer, with bos_token/eos_token as the real model's config sets them. These and
    deepseek_v3 also render EXTRA_CONVERSATIONS (tool turns, misplaced roles, padded text); a
    conversation the template rejects (raise_exception) is recorded with "error" instead of
    "rendered".
Versions go to tests/data/tokenizers/fixture_versions.json.

Usage: python3 tools/make_tokenizer_fixtures.py   (needs: tokenizers transformers jinja2 openai-harmony)
"""
import base64
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "tokenizers"
TEMPLATES = ROOT / "tools" / "chat_templates"
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

# Cases where the newer templates differ from each other: rejected role orders (Mistral), tool
# turns, system prompts that are not first, whitespace the templates trim (Python str.strip, which
# also removes Unicode spaces such as U+00A0 and U+3000).
EXTRA_CONVERSATIONS = [
    {"name": "consecutive_users", "messages": [
        {"role": "user", "content": "Hi."},
        {"role": "user", "content": "Still there?"}]},
    {"name": "assistant_first", "messages": [
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Hi."}]},
    {"name": "two_systems", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"}]},
    {"name": "system_not_first", "messages": [
        {"role": "user", "content": "Hi."},
        {"role": "assistant", "content": "Hello."},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why?"}]},
    {"name": "system_and_ends_with_assistant", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": "Hi!"}]},
    {"name": "padded_text", "messages": [
        {"role": "system", "content": "\u00a0 Be kind. \n"},
        {"role": "user", "content": " Hi "},
        {"role": "assistant", "content": "\u3000 Hello!\t "},
        {"role": "user", "content": "Bye\n"}]},
    {"name": "tool_result", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "tool", "content": "{\"temp\": 20, \"sky\": \"clair \u00e9t\u00e9\"}"},
        {"role": "tool", "content": "line1\nline2\t\"q\" \\ \u0001"},
        {"role": "assistant", "content": "<think>\nuse it\n</think>\n\nIt is 20."},
        {"role": "user", "content": "Thanks."},
        {"role": "tool", "content": "again"}]},
]


def jinja_renders(name, family, variants, template=None, special=None, extra=False):
    """Renders CONVERSATIONS (and EXTRA_CONVERSATIONS when `extra`) with the folder's own
    chat_template, or with tools/chat_templates/<template>; `special` overrides bos/eos_token."""
    import jinja2
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(DATA / name))
    kwargs_base = dict(special or {})
    if template is not None:
        kwargs_base["chat_template"] = (TEMPLATES / template).read_text(encoding="utf-8")
    out = []
    for conv in CONVERSATIONS + (EXTRA_CONVERSATIONS if extra else []):
        for opts in variants:
            rec = {"name": conv["name"], "messages": conv["messages"], "options": opts}
            try:
                rec["rendered"] = tok.apply_chat_template(conv["messages"], tokenize=False,
                                                          **kwargs_base, **opts)
            except jinja2.TemplateError as e:  # the template's raise_exception
                rec["error"] = str(e)
            out.append(rec)
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
                    "rendered": "", "stop": sorted(enc.stop_tokens_for_assistant_actions())})
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
    both = [{"add_generation_prompt": True}, {"add_generation_prompt": False}]
    jinja_renders("deepseek_v3", "deepseek_v3", both, extra=True)
    jinja_renders("llama3_1", "llama3_1", both)
    # Closest vendored tokenizers: R1 shares V3's vocabulary and specials; Llama 4's bos is the same
    # string as Llama 3.1's (its eos is <|eot|>); the Mistral folder is Mixtral's v1 vocabulary.
    deepseek = {"bos_token": "<\uff5cbegin\u2581of\u2581sentence\uff5c>",
                "eos_token": "<\uff5cend\u2581of\u2581sentence\uff5c>"}
    jinja_renders("deepseek_v3", "deepseek_r1", both, "deepseek-ai_DeepSeek-R1.jinja", deepseek,
                  extra=True)
    jinja_renders("llama3_1", "llama4", both, "meta-llama_Llama-4-Scout-17B-16E-Instruct.jinja",
                  {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot|>"}, extra=True)
    mistral = {"bos_token": "<s>", "eos_token": "</s>"}
    jinja_renders("mistral", "mistral_v1", both, "mistralai_Mixtral-8x7B-Instruct-v0.1.jinja",
                  mistral, extra=True)
    jinja_renders("mistral", "mistral_v3", both, "mistralai_Mixtral-8x22B-Instruct-v0.1.jinja",
                  mistral, extra=True)
    harmony_renders()
    versions = {p: md.version(p) for p in ["tokenizers", "transformers", "jinja2", "openai-harmony"]}
    versions["python"] = sys.version.split()[0]
    versions["chat_templates"] = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
                                  for f in sorted(TEMPLATES.glob("*.jinja"))}
    (DATA / "fixture_versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    print(versions)


if __name__ == "__main__":
    main()
