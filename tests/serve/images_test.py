#!/usr/bin/env python3
"""Images through `templlm serve`, with the official `openai` and `anthropic` clients on loopback
(CTest: serve.images), on the Llama 4 vision fixture (tests/data/models/llama4-scout-vision-tiny).

OpenAI `image_url` parts with data: URLs and Anthropic base64 `image` blocks give the reply
`templlm chat --image` gives for the same conversation (which tests/unit/cli/image_cli_test.cpp
and tests/unit/models/llama4_vision_test.cpp check against transformers), streamed or not; bad
images (a remote URL, bad base64, a truncated file, a media type we do not decode) are 400s
naming the field; a model without a vision tower refuses images with a 400 and still serves text.

usage: images_test.py CLI FIXTURE_DIR IMAGES_DIR DEMO_DIR
"""
import base64, os, subprocess, sys, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
CLI, FIXTURE, IMAGES, DEMO = sys.argv[1:5]
sys.argv = [sys.argv[0], CLI, FIXTURE]  # clients_test reads CLI and MODEL from argv
import clients_test  # noqa: E402  (the Server helper)
from clients_test import Server, anthropic, openai  # noqa: E402

QUESTION = "What is in these two pictures?"


def data_url(name, media):
    with open(os.path.join(IMAGES, name), "rb") as f:
        return f"data:{media};base64," + base64.b64encode(f.read()).decode()


def b64(name):
    with open(os.path.join(IMAGES, name), "rb") as f:
        return base64.b64encode(f.read()).decode()


def cli_chat_reply(images=("wide.png", "tall.jpg")):
    flags = [x for name in images for x in ("--image", os.path.join(IMAGES, name))]
    out = subprocess.run([CLI, "chat", "--model", FIXTURE, *flags, "--temperature", "0", "--max-tokens", "8",
                          "--threads", "1"], input=QUESTION + "\n", capture_output=True, text=True, timeout=300,
                         check=True).stdout
    assert out.startswith("> ") and out.endswith("\n> "), repr(out)
    return out[2:-3]


OPENAI_PARTS = [
    {"type": "image_url", "image_url": {"url": data_url("wide.png", "image/png")}},
    {"type": "image_url", "image_url": {"url": data_url("tall.jpg", "image/jpeg")}},
    {"type": "text", "text": QUESTION},
]


class Images(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.want = cli_chat_reply()
        cls.server = Server()
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def chat(self, parts, **kw):
        return self.client.chat.completions.create(model="m", messages=[{"role": "user", "content": parts}],
                                                   max_tokens=8, temperature=0, **kw)

    def test_openai_image_url_parts_answer_as_the_cli(self):
        r = self.chat(OPENAI_PARTS)
        self.assertEqual(r.choices[0].message.content, self.want)
        self.assertEqual(r.usage.prompt_tokens, 79)  # the images' tokens counted (expected/chat.json's ids)

    def test_openai_stream_adds_up_to_the_reply(self):
        text = "".join(c.choices[0].delta.content or "" for c in self.chat(OPENAI_PARTS, stream=True) if c.choices)
        self.assertEqual(text, self.want)

    def test_anthropic_image_blocks_answer_as_the_cli(self):
        m = self.server.anthropic().messages.create(model="m", max_tokens=8, extra_body={"temperature": 0}, messages=[{
            "role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64("wide.png")}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": b64("tall.jpg")}},
                {"type": "text", "text": QUESTION}]}])
        self.assertEqual("".join(b.text for b in m.content if b.type == "text"), self.want)

    def test_the_prefix_cache_does_not_confuse_images(self):
        # progressive.jpg and interlaced.png are each one tile: their prompts have the same ids,
        # and only the features differ. The server's prefix cache (on by default) must not reuse one's image
        # tokens for the other: each reply equals the CLI's for its own image.
        replies = {}
        for name, media in [("progressive.jpg", "image/jpeg"), ("interlaced.png", "image/png"),
                            ("progressive.jpg", "image/jpeg")]:
            r = self.chat([{"type": "image_url", "image_url": {"url": data_url(name, media)}},
                           {"type": "text", "text": QUESTION}])
            replies.setdefault(name, cli_chat_reply((name,)))
            self.assertEqual(r.choices[0].message.content, replies[name], name)
        self.assertNotEqual(replies["progressive.jpg"], replies["interlaced.png"], "the test cannot tell the images apart")

    def test_bad_images_are_400s_naming_the_field(self):
        for part, named in [
            ({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}, "messages[0].content[0].image_url"),
            ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, "messages[0].content[0].image_url"),
            ({"type": "image_url", "image_url": {"url": data_url("truncated.png", "image/png")}}, "truncated"),
            ({"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGOD"}}, "image/gif"),
        ]:
            with self.assertRaises(openai.BadRequestError, msg=named) as e:
                self.chat([part, {"type": "text", "text": "x"}])
            self.assertEqual(e.exception.status_code, 400)
            self.assertIn(named, str(e.exception))
        with self.assertRaises(anthropic.BadRequestError) as e:
            self.server.anthropic().messages.create(model="m", max_tokens=2, messages=[{"role": "user", "content": [
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]}])
        self.assertIn("messages[0].content[0].source", str(e.exception))


class NoVision(unittest.TestCase):
    def test_a_model_without_a_tower_refuses_images_and_serves_text(self):
        clients_test.MODEL = DEMO
        s = Server()
        try:
            c = s.client()
            with self.assertRaises(openai.BadRequestError) as e:
                c.chat.completions.create(model="m", max_tokens=2, messages=[{"role": "user", "content": OPENAI_PARTS}])
            self.assertIn("takes no images", str(e.exception))
            r = c.completions.create(model="m", prompt="And God said", max_tokens=2, temperature=0)
            self.assertEqual(r.usage.completion_tokens, 2)
        finally:
            s.stop()
            clients_test.MODEL = FIXTURE


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
