#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Renders of conversations with tools (function definitions, assistant tool calls, tool results)
by transformers' apply_chat_template with each family's released chat_template, written to
tests/data/tokenizers/chat/<family>_tools.jsonl; tests/unit/tokenizer/chat_tools_test.cpp checks
templlm's formats against them. Also records how the reference parsers read replies back
(vLLM's hermes parser's rule for Qwen3, written out here: the text before the first <tool_call>
is the content, each block's JSON is a call).

Usage: python3 tools/make_tool_chat_fixtures.py   (transformers, jinja2; tools/requirements.txt)
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "tokenizers"

WEATHER = {"type": "function", "function": {
    "name": "get_weather",
    "description": "Current weather in a city. Température «°C»",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string", "description": "City name"},
                                  "unit": {"type": "string", "enum": ["c", "f"]},
                                  "days": {"type": "integer", "minimum": 1, "maximum": 7.5}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "now", "description": "", "parameters": {
    "type": "object", "properties": {}, "nullable": None, "strict": True}}}

CONVERSATIONS = [
    {"name": "tools_no_system", "tools": [WEATHER],
     "messages": [{"role": "user", "content": "Weather in Paris?"}]},
    {"name": "tools_with_system", "tools": [WEATHER, TIME],
     "messages": [{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Weather in Paris, and the time?"}]},
    {"name": "call_and_result", "tools": [WEATHER, TIME],
     "messages": [{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [{"id": "call_1", "type": "function", "function": {
                       "name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 20}"},
                  {"role": "assistant", "content": "It is 20 °C."},
                  {"role": "user", "content": "And the time?"}]},
    {"name": "two_calls_after_text_and_think", "tools": [WEATHER, TIME],
     "messages": [{"role": "user", "content": "Paris and Rome?"},
                  {"role": "assistant", "content": "<think>\nTwo cities.\n</think>\n\nLet me check.",
                   "tool_calls": [
                       {"id": "a", "type": "function", "function": {"name": "get_weather",
                                                                   "arguments": "{\"city\": \"Paris\"}"}},
                       {"id": "b", "type": "function", "function": {"name": "get_weather",
                                                                   "arguments": "{\"city\": \"Rome\"}"}}]},
                  {"role": "tool", "tool_call_id": "a", "content": "sunny"},
                  {"role": "tool", "tool_call_id": "b", "content": "rain"}]},
    {"name": "reasoning_content_field", "tools": [TIME],
     "messages": [{"role": "user", "content": "Time?"},
                  {"role": "assistant", "content": "", "reasoning_content": "\nI should call now.\n",
                   "tool_calls": [{"id": "t", "type": "function",
                                   "function": {"name": "now", "arguments": "{}"}}]},
                  {"role": "tool", "tool_call_id": "t", "content": "12:00"}]},
    {"name": "object_arguments", "tools": [WEATHER],
     "messages": [{"role": "user", "content": "Weather?"},
                  {"role": "assistant", "content": "Checking.",
                   "tool_calls": [{"id": "o", "type": "function", "function": {
                       "name": "get_weather",
                       "arguments": {"city": "Zürich \"N\"\n", "days": 3, "ratio": 0.1, "big": 1e+300,
                                     "tiny": 1e-07, "neg": -2.5, "list": [True, False, None], "nested": {}}}}]},
                  {"role": "tool", "tool_call_id": "o", "content": "cold"}]},
    {"name": "no_tools_but_calls", "tools": None,
     "messages": [{"role": "user", "content": "Time?"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [{"id": "t", "type": "function",
                                   "function": {"name": "now", "arguments": "{}"}}]},
                  {"role": "tool", "tool_call_id": "t", "content": "12:00"}]},
]


# Mistral's templates take back only 9-character call ids.
MISTRAL_CONVERSATIONS = [
    {"name": "mistral_tools_last_user", "tools": [WEATHER, TIME],
     "messages": [{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello."},
                  {"role": "user", "content": "Weather in \"Paris\"?"}]},
    {"name": "mistral_call_and_result", "tools": [WEATHER],
     "messages": [{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {
                       "name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
                  {"role": "tool", "tool_call_id": "abcDEF123", "content": "{\"temp\": 20}"},
                  {"role": "assistant", "content": " It is 20. "},
                  {"role": "user", "content": "Thanks"}]},
    {"name": "mistral_two_calls_string_arguments", "tools": [WEATHER, TIME],
     "messages": [{"role": "user", "content": "Both?"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [{"id": "000000001", "type": "function",
                                   "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
                                  {"id": "000000002", "type": "function", "function": {"name": "now", "arguments": {}}}]},
                  {"role": "tool", "tool_call_id": "000000001", "content": "rain"},
                  {"role": "tool", "tool_call_id": "000000002", "content": "noon"}]},
    {"name": "mistral_bad_call_id", "tools": [WEATHER],
     "messages": [{"role": "user", "content": "x"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [{"id": "short", "type": "function",
                                   "function": {"name": "now", "arguments": {}}}]}]},
]


def mistral_v3():
    jinja_family("mistral_v3_tools.jsonl", "mistral", "mistralai_Mixtral-8x22B-Instruct-v0.1.jinja",
                 {"bos_token": "<s>", "eos_token": "</s>"}, MISTRAL_CONVERSATIONS + CONVERSATIONS,
                 [{"add_generation_prompt": True}])


LLAMA4_CONVERSATIONS = [
    {"name": "llama4_tools_only_system", "tools": [WEATHER],
     "messages": [{"role": "system", "content": "Be brief."}]},
    {"name": "llama4_call_with_text", "tools": [WEATHER, TIME],
     "messages": [{"role": "system", "content": " Be brief. "},
                  {"role": "user", "content": " Weather? "},
                  {"role": "assistant", "content": "Calling.",
                   "tool_calls": [{"id": "a", "type": "function", "function": {"name": "get_weather",
                                                                           "arguments": {"city": "Paris"}}},
                                  {"id": "b", "type": "function", "function": {"name": "now", "arguments": {}}}]},
                  {"role": "tool", "tool_call_id": "a", "content": "sunny"},
                  {"role": "user", "content": "And?"}]},
]


def jinja_family(out_name, tokenizer_dir, template_file, special, conversations, variants):
    """Renders `conversations` with tools/chat_templates/<template_file> (None: the tokenizer
    folder's own chat_template) for each option set; a template's raise_exception is recorded."""
    import jinja2
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(DATA / tokenizer_dir))
    if template_file is not None:
        special = dict(special, chat_template=(ROOT / "tools" / "chat_templates" / template_file).read_text())
    out = []
    for conv in conversations:
        for opts in variants:
            rec = {"name": conv["name"], "tools": conv["tools"], "messages": conv["messages"], "options": opts}
            try:
                rec["rendered"] = tok.apply_chat_template(conv["messages"], tools=conv["tools"], tokenize=False,
                                                          **special, **opts)
            except jinja2.TemplateError as e:  # the template's raise_exception
                rec["error"] = str(e)
            out.append(rec)
    with open(DATA / "chat" / out_name, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def llama4():
    jinja_family("llama4_tools.jsonl", "llama3_1", "meta-llama_Llama-4-Scout-17B-16E-Instruct.jinja",
                 {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot|>"}, LLAMA4_CONVERSATIONS + CONVERSATIONS,
                 [{"add_generation_prompt": True}, {"add_generation_prompt": False}])


def qwen3():
    jinja_family("qwen3_tools.jsonl", "qwen3", None, {}, CONVERSATIONS,
                 [{"add_generation_prompt": True}, {"add_generation_prompt": False},
                  {"add_generation_prompt": True, "enable_thinking": False}])


if __name__ == "__main__":
    qwen3()
    mistral_v3()
    llama4()
