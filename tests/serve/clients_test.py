#!/usr/bin/env python3
"""`templlm serve` driven by the official `openai` and `anthropic` Python clients on loopback
(CTest: serve.clients).

Starts the server on the embedded demo model at a free port, then checks: /health and
/v1/models; greedy and seeded completions equal `templlm generate` (the same engine, one request
alone); chat non-stream equals the concatenated stream, with usage; 8 concurrent streaming
clients each get exactly what they get alone; a client that disconnects mid-stream is cancelled
and its KV pages freed (/metrics); bad requests get their status and a message naming the field;
an API key is enforced; a full queue answers 503. Anthropic's Messages API: a reply equals the
OpenAI chat reply for the same conversation, the event stream adds up to it, stop sequences and
a missing max_tokens.

usage: clients_test.py CLI MODEL_DIR
"""
import json, os, re, subprocess, sys, threading, time, unittest, urllib.request

CLI, MODEL = sys.argv[1], sys.argv[2]
try:
    import anthropic
    import openai
except ImportError as e:
    sys.exit(f"a client is missing ({e}): python3 -m pip install openai anthropic (scripts/test.sh does)")


class Server:
    def __init__(self, *extra):
        self.proc = subprocess.Popen([CLI, "serve", "--model", MODEL, "--port", "0", "--threads", "1", *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        self.port = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("templlm serve did not start: " + (self.proc.stderr.read() or ""))
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep the pipe drained
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, key="none"):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=120)

    def anthropic(self, key="none"):
        return anthropic.Anthropic(base_url=self.url, api_key=key, max_retries=0, timeout=120)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.status, r.read().decode()

    def metrics(self):
        out = {}
        for line in self.get("/metrics")[1].splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self):
        self.proc.terminate()
        try:
            # SIGTERM stops the server cleanly (exit status 0)
            if self.proc.wait(timeout=30) != 0:
                raise RuntimeError(f"templlm serve exited with {self.proc.returncode}")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            self.proc.stderr.close()


def cli_generate(prompt, *flags):
    out = subprocess.run([CLI, "generate", "--model", MODEL, "--prompt", prompt, "--quiet", "--threads", "1", *flags],
                         capture_output=True, text=True, timeout=300, check=True)
    return out.stdout


class WithServer(unittest.TestCase):
    """One server on the demo model for the test case's tests; `client` is made by `connect`."""
    connect = staticmethod(Server.client)

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.client = cls.connect(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class OpenAIClients(WithServer):

    def test_metrics_count_tokens_and_latencies(self):
        before = self.server.metrics()
        self.client.completions.create(model="demo", prompt="And God said", max_tokens=5, temperature=0)
        m = self.server.metrics()
        self.assertEqual(m["templlm_generated_tokens_total"] - before["templlm_generated_tokens_total"], 5)
        self.assertEqual(m["templlm_time_to_first_token_seconds_count"] - before["templlm_time_to_first_token_seconds_count"], 1)
        self.assertEqual(m["templlm_inter_token_latency_seconds_count"] - before["templlm_inter_token_latency_seconds_count"], 4)
        self.assertEqual(m['templlm_time_to_first_token_seconds_bucket{le="+Inf"}'], m["templlm_time_to_first_token_seconds_count"])

    def test_health_and_models(self):
        self.assertEqual(self.server.get("/health"), (200, '{"status":"ok"}'))
        models = [m.id for m in self.client.models.list()]
        self.assertEqual(len(models), 1)

    def test_completions_equal_the_cli(self):
        for prompt, params, flags in [
            ("And God said", dict(temperature=0), ["--temperature", "0"]),
            ("In the beginning", dict(temperature=0.8, top_p=0.95, seed=7),
             ["--temperature", "0.8", "--top-p", "0.95", "--seed", "7"]),
        ]:
            r = self.client.completions.create(model="demo", prompt=prompt, max_tokens=24, **params)
            want = cli_generate(prompt, "--max-tokens", "24", *flags)
            self.assertGreater(len(r.choices[0].text), 0)
            self.assertEqual(prompt + r.choices[0].text + "\n", want)  # the CLI prints prompt + text
            self.assertEqual(r.usage.completion_tokens, 24)
            self.assertEqual(r.choices[0].finish_reason, "length")

    def test_chat_stream_equals_non_stream(self):
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who made the light?"}]
        whole = self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=32, temperature=0)
        self.assertEqual(whole.object, "chat.completion")
        self.assertGreater(whole.usage.prompt_tokens, 0)
        self.assertEqual(whole.usage.completion_tokens, 32)
        parts, usage, finish = [], None, None
        for chunk in self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=32, temperature=0,
                                                          stream=True, stream_options={"include_usage": True}):
            if chunk.usage:
                usage = chunk.usage
            for c in chunk.choices:
                parts.append(c.delta.content or "")
                finish = c.finish_reason or finish
        self.assertEqual("".join(parts), whole.choices[0].message.content)
        self.assertEqual(usage.completion_tokens, 32)
        self.assertEqual(finish, "length")

    def test_a_requests_chat_switches_reach_the_format(self):
        msgs = [{"role": "user", "content": "Hi"}]
        plain = self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=2, temperature=0)
        # Qwen3's enable_thinking = false renders an empty think block into the prompt.
        off = self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=2, temperature=0,
                                                  extra_body={"chat_template_kwargs": {"enable_thinking": False}})
        self.assertGreater(off.usage.prompt_tokens, plain.usage.prompt_tokens)
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=2, reasoning_effort="extreme")
        self.assertIn("reasoning_effort", str(e.exception))

    def test_tools_and_earlier_calls_render_as_qwen3s_template(self):
        # The demo model is Qwen3-shaped: the server's prompt must be the template's render, written out here
        # by hand from Qwen3's chat_template, so greedy chat == greedy completion of that text.
        history = [{"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                       "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                   {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
        rendered = ("<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query."
                    "\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                    + json.dumps(WEATHER, ensure_ascii=False) +
                    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
                    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
                    "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n"
                    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
                    "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n")
        chat = self.client.chat.completions.create(model="demo", messages=history, tools=[WEATHER], max_tokens=12,
                                                   temperature=0)
        plain = self.client.completions.create(model="demo", prompt=rendered, max_tokens=12, temperature=0)
        self.assertEqual(chat.usage.prompt_tokens, plain.usage.prompt_tokens)
        msg = chat.choices[0].message
        self.assertFalse(msg.tool_calls)  # the demo model writes no <tool_call>: its text is the completion's
        self.assertEqual(msg.content, plain.choices[0].text)
        # Streamed with tools: the deltas add up to the whole reply; tool_choice "none" is accepted.
        parts = [c.delta.content or "" for chunk in self.client.chat.completions.create(
            model="demo", messages=history, tools=[WEATHER], max_tokens=12, temperature=0, stream=True)
            for c in chunk.choices]
        self.assertEqual("".join(parts), msg.content or "")
        none = self.client.chat.completions.create(model="demo", messages=history, tools=[WEATHER], max_tokens=2,
                                                   temperature=0, tool_choice="none")
        self.assertEqual(none.usage.prompt_tokens, chat.usage.prompt_tokens)

    def test_n_choices_and_logprobs(self):
        r = self.client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "Hi"}],
                                                max_tokens=8, temperature=1.0, seed=3, n=3, logprobs=True)
        self.assertEqual([c.index for c in r.choices], [0, 1, 2])
        for c in r.choices:
            self.assertEqual(len(c.logprobs.content), 8)
            self.assertTrue(all(t.logprob <= 0 for t in c.logprobs.content))

    def test_top_logprobs_whole_and_streamed(self):
        msgs = [{"role": "user", "content": "Who made the light?"}]
        whole = self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=10, temperature=0,
                                                    logprobs=True, top_logprobs=3)
        entries = whole.choices[0].logprobs.content
        self.assertEqual(len(entries), 10)
        for t in entries:
            self.assertEqual(len(t.top_logprobs), 3)
            alts = [a.logprob for a in t.top_logprobs]
            self.assertEqual(alts, sorted(alts, reverse=True))
            # Greedy: the chosen token is the most likely one, with the same log p.
            self.assertEqual((t.top_logprobs[0].token, t.top_logprobs[0].logprob), (t.token, t.logprob))
        streamed = []
        for chunk in self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=10, temperature=0,
                                                          logprobs=True, top_logprobs=3, stream=True):
            for c in chunk.choices:
                if c.logprobs and c.logprobs.content:
                    streamed += c.logprobs.content
        # The same tokens; log p equal up to rounding (the prefix cache reuses the first run's prompt pages,
        # so the second prefill sums in other shapes: ~1e-6 apart).
        self.assertEqual([t.token for t in streamed], [t.token for t in entries])
        for a, b in zip(streamed, entries):
            self.assertAlmostEqual(a.logprob, b.logprob, delta=1e-4)
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="demo", messages=msgs, max_tokens=2, top_logprobs=2)
        self.assertIn("top_logprobs", str(e.exception))

    def test_concurrent_streams_equal_their_solo_runs(self):
        prompts = [f"And the {w} said" for w in ["LORD", "king", "people", "man", "woman", "prophet", "angel", "son"]]
        alone = [self.client.completions.create(model="demo", prompt=p, max_tokens=20, temperature=0).choices[0].text
                 for p in prompts]
        got = [None] * len(prompts)

        def run(i):
            c = self.server.client()
            got[i] = "".join(ch.choices[0].text for ch in c.completions.create(
                model="demo", prompt=prompts[i], max_tokens=20, temperature=0, stream=True) if ch.choices)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertEqual(got, alone)

    def test_a_disconnected_client_is_cancelled_and_frees_its_pages(self):
        before = self.server.metrics()
        stream = self.client.completions.create(model="demo", prompt="And God said", max_tokens=900, temperature=0,
                                                stream=True)
        for i, _ in enumerate(stream):
            if i == 2:
                break
        stream.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            m = self.server.metrics()
            if m["templlm_requests_cancelled_total"] > before["templlm_requests_cancelled_total"] and \
                    m["templlm_running_requests"] == 0:
                break
            time.sleep(0.1)
        self.assertGreater(m["templlm_requests_cancelled_total"], before["templlm_requests_cancelled_total"])
        # A cancelled request is not kept by the prefix cache: the pages in use are the cache's.
        self.assertEqual(m["templlm_kv_pages_in_use"], before["templlm_kv_pages_in_use"])
        self.assertLess(m["templlm_generated_tokens_total"] - before["templlm_generated_tokens_total"], 900)

    def test_bad_requests_get_400_naming_the_field(self):
        cases = [
            (dict(prompt="x", temperature="hot"), "temperature"),
            (dict(prompt="x", top_p=0), "top_p"),
            (dict(prompt="x", max_tokens=0), "max_tokens"),
            (dict(prompt="x", n=100), "n"),
            (dict(prompt="x", stop=[""]), "stop"),
            (dict(prompt=list(range(5)) * 300), "1500 tokens"),  # beyond the demo's 1024 positions
            (dict(prompt=[999999]), "prompt"),
        ]
        for body, field in cases:
            with self.assertRaises(openai.BadRequestError, msg=str(body)) as e:
                self.client.completions.create(model="demo", max_tokens=body.pop("max_tokens", 4), **body)
            self.assertIn(field, str(e.exception), str(body))
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="demo", messages=[])
        self.assertIn("messages", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:  # needs constrained decoding: refused, not ignored
            self.client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}],
                                                tools=[{"type": "function", "function": {"name": "f"}}],
                                                tool_choice="required")
        self.assertIn("tool_choice", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}],
                                                tools=[{"type": "function", "function": {"description": "no name"}}])
        self.assertIn("tools[0].function.name", str(e.exception))
        req = urllib.request.Request(self.server.url + "/v1/completions", data=b"{not json", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(e.exception.code, 400)
        self.assertIn("not JSON", json.loads(e.exception.read())["error"]["message"])


WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city «°C».",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}

# The anthropic SDK (2.x) no longer takes temperature as an argument; the server reads it.
GREEDY = {"temperature": 0}


class AnthropicClient(WithServer):
    connect = staticmethod(Server.anthropic)

    def test_a_message_equals_the_openai_chat_reply(self):
        msgs = [{"role": "user", "content": "Who made the light?"}]
        m = self.client.messages.create(model="demo", max_tokens=24, extra_body=GREEDY, system="Be brief.", messages=msgs)
        chat = self.server.client().chat.completions.create(
            model="demo", max_tokens=24, temperature=0,
            messages=[{"role": "system", "content": "Be brief."}] + msgs)
        self.assertEqual(m.type, "message")
        self.assertEqual(m.role, "assistant")
        self.assertEqual([b.type for b in m.content], ["text"])
        self.assertEqual(m.content[0].text, chat.choices[0].message.content)
        self.assertEqual(m.stop_reason, "max_tokens")
        self.assertEqual(m.usage.output_tokens, 24)
        self.assertEqual(m.usage.input_tokens, chat.usage.prompt_tokens)

    def test_the_event_stream_adds_up_to_the_message(self):
        msgs = [{"role": "user", "content": [{"type": "text", "text": "And God said"}]}]
        whole = self.client.messages.create(model="demo", max_tokens=20, extra_body=GREEDY, messages=msgs)
        with self.client.messages.stream(model="demo", max_tokens=20, extra_body=GREEDY, messages=msgs) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        self.assertEqual(text, whole.content[0].text)
        self.assertEqual(final.content[0].text, whole.content[0].text)
        self.assertEqual(final.stop_reason, "max_tokens")
        self.assertEqual(final.usage.output_tokens, 20)

    def test_a_stop_sequence_ends_the_reply_and_is_named(self):
        r = self.server.client().completions.create(model="demo", prompt="And God said", max_tokens=24, extra_body=GREEDY)
        word = r.choices[0].text.split()[2]  # a word the greedy continuation reaches
        m = self.client.messages.create(model="demo", max_tokens=200, extra_body=GREEDY, stop_sequences=[word],
                                        messages=[{"role": "user", "content": "And God said"}])
        self.assertEqual(m.stop_reason, "stop_sequence")
        self.assertEqual(m.stop_sequence, word)
        self.assertNotIn(word, m.content[0].text)

    def test_tools_tool_use_and_results_render_as_the_openai_form(self):
        # Anthropic's tools are rendered as the OpenAI-style definitions the template takes: the same prompt.
        tools = [{"name": "get_weather", "description": WEATHER["function"]["description"],
                  "input_schema": WEATHER["function"]["parameters"]}]
        msgs = [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather",
                                                   "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}]
        m = self.client.messages.create(model="demo", max_tokens=8, extra_body=GREEDY, tools=tools, messages=msgs)
        chat = self.server.client().chat.completions.create(
            model="demo", max_tokens=8, temperature=0, tools=[WEATHER],
            messages=[msgs[0], {"role": "assistant", "content": None, "tool_calls": [{"id": "t1", "type": "function",
                      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                      {"role": "tool", "tool_call_id": "t1", "content": "sunny"}])
        self.assertEqual(m.usage.input_tokens, chat.usage.prompt_tokens)
        self.assertIn(m.stop_reason, ("max_tokens", "end_turn", "tool_use"))
        with self.assertRaises(anthropic.BadRequestError) as e:
            self.client.messages.create(model="demo", max_tokens=8, tools=tools, tool_choice={"type": "any"},
                                        messages=msgs[:1])
        self.assertIn("tool_choice", str(e.exception))

    def test_bad_requests_get_anthropic_errors(self):
        with self.assertRaises(anthropic.BadRequestError) as e:
            self.client.messages.create(model="demo", max_tokens=0, messages=[{"role": "user", "content": "x"}])
        self.assertIn("max_tokens", str(e.exception))
        with self.assertRaises(anthropic.BadRequestError) as e:
            self.client.messages.create(model="demo", max_tokens=4, messages=[{"role": "system", "content": "x"}])
        self.assertIn("role", str(e.exception))
        req = urllib.request.Request(self.server.url + "/v1/messages", method="POST",
                                     data=json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode())
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        body = json.loads(e.exception.read())
        self.assertEqual((e.exception.code, body["type"], body["error"]["type"]), (400, "error", "invalid_request_error"))
        self.assertIn("max_tokens", body["error"]["message"])


class PrefixCache(unittest.TestCase):
    def test_hits_are_counted_and_change_no_output(self):
        on, off = Server(), Server("--prefix-cache", "0")
        try:
            system = {"role": "system", "content": "In the beginning God created the heaven and the earth. " * 4}
            turns = [[system, {"role": "user", "content": q}] for q in ["Who made the light?", "And the waters?"]]
            first = on.client().chat.completions.create(model="demo", messages=turns[0], max_tokens=12, temperature=0)
            follow = turns[0] + [{"role": "assistant", "content": first.choices[0].message.content},
                                 {"role": "user", "content": "And then?"}]
            requests = [dict(messages=turns[0]), dict(messages=turns[1]), dict(messages=follow),
                        dict(messages=turns[1], temperature=0.9, top_p=0.9, seed=5)]
            before = on.metrics()
            for r in requests:
                r.setdefault("temperature", 0)
                got = on.client().chat.completions.create(model="demo", max_tokens=12, **r)
                want = off.client().chat.completions.create(model="demo", max_tokens=12, **r)
                self.assertEqual(got.choices[0].message.content, want.choices[0].message.content, str(r))
                self.assertEqual(got.usage.prompt_tokens, want.usage.prompt_tokens)
            m = on.metrics()
            self.assertEqual(m["templlm_prefix_cache_hits_total"] - before["templlm_prefix_cache_hits_total"], 4)
            self.assertGreater(m["templlm_prefix_cache_tokens_reused_total"], 4 * 40)
            self.assertGreater(m["templlm_prefix_cache_hit_rate"], 0)
            self.assertEqual(off.metrics()["templlm_prefix_cache_hits_total"], 0)
        finally:
            on.stop()
            off.stop()


class ServerOptions(unittest.TestCase):
    def test_api_key_is_required_when_set(self):
        s = Server("--api-key", "sekret")
        try:
            with self.assertRaises(openai.AuthenticationError):
                s.client("wrong").completions.create(model="demo", prompt="x", max_tokens=2)
            r = s.client("sekret").completions.create(model="demo", prompt="x", max_tokens=2, temperature=0)
            self.assertEqual(r.usage.completion_tokens, 2)
            with self.assertRaises(anthropic.AuthenticationError):
                s.anthropic("wrong").messages.create(model="demo", max_tokens=2, messages=[{"role": "user", "content": "x"}])
            m = s.anthropic("sekret").messages.create(model="demo", max_tokens=2, messages=[{"role": "user", "content": "x"}])
            self.assertEqual(m.usage.output_tokens, 2)
        finally:
            s.stop()

    def test_bad_flags_are_usage_errors_naming_the_flag(self):
        for flags, named in [(["--port", "70000"], "--port"), (["--max-context", "5000"], "--max-context"),
                             (["--max-batch", "0"], "--max-batch"), (["--backend", "tpu"], "--backend"),
                             (["--prefix-cache", "-1"], "--prefix-cache")]:
            r = subprocess.run([CLI, "serve", "--model", MODEL, *flags], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, f"{flags}: {r.stderr}")
            self.assertIn(named, r.stderr)

    def test_a_full_queue_answers_503(self):
        s = Server("--max-queue", "0")
        try:
            with self.assertRaises(openai.InternalServerError) as e:
                s.client().completions.create(model="demo", prompt="x", max_tokens=2)
            self.assertEqual(e.exception.status_code, 503)
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
