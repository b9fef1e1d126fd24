// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/tokenizer_errors_test.cpp
/// Bad input: malformed and truncated JSON, unknown component types (named in the message),
/// merges naming missing tokens, unreadable files. Uses small hand-written tokenizer.json texts.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "templlm/core/error.hpp"
#include "tokenizer_test_support.hpp"

namespace {

using templlm::tokenizer::Tokenizer;

// A tiny byte-level-free BPE: vocab a b c ab abc, merges a+b, ab+c.
std::string tiny(const std::string& normalizer = "null", const std::string& pre = "null",
                 const std::string& decoder = "null",
                 const std::string& merges = R"(["a b", "ab c"])",
                 const std::string& model_type = "BPE") {
  return R"({"version": "1.0", "added_tokens": [{"id": 5, "content": "<x>", "special": true,
    "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}],
    "normalizer": )" +
         normalizer + R"(, "pre_tokenizer": )" + pre + R"(, "post_processor": null, "decoder": )" +
         decoder + R"(,
    "model": {"type": ")" +
         model_type + R"(", "unk_token": null,
      "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}, "merges": )" +
         merges + "}}";
}

template <class E>
std::string message_of(const std::string& json) {
  try {
    (void)Tokenizer::from_json_text(json);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

TEST(TokenizerLoad, TinyModelWorks) {
  const auto t = Tokenizer::from_json_text(tiny());
  EXPECT_EQ(t.encode("abcab<x>a"), (std::vector<std::uint32_t>{4, 3, 5, 0}));
  EXPECT_EQ(t.vocab_size(), 6u);
  EXPECT_EQ(t.decode(std::vector<std::uint32_t>{4, 3}),
            "abc ab");  // no decoder: HF joins with spaces
}

TEST(TokenizerLoad, PairMergesAreTheSameAsStringMerges) {
  const auto a = Tokenizer::from_json_text(tiny());
  const auto b =
      Tokenizer::from_json_text(tiny("null", "null", "null", R"([["a","b"],["ab","c"]])"));
  EXPECT_EQ(a.encode("cabcba"), b.encode("cabcba"));
}

TEST(TokenizerLoad, MalformedJsonIsAFormatError) {
  EXPECT_NE(message_of<templlm::FormatError>("{\"model\": {\"vocab\": {\"a\": 0,}}}"),
            "no exception");
  EXPECT_EQ(message_of<templlm::FormatError>("not json").find("wrong"), std::string::npos);
  const std::string full = tiny();
  for (const std::size_t cut :
       {std::size_t{1}, full.size() / 3, full.size() / 2, full.size() - 1}) {
    const std::string msg = message_of<templlm::FormatError>(full.substr(0, cut));
    EXPECT_EQ(msg.find("wrong"), std::string::npos) << msg;
    EXPECT_NE(msg, "no exception") << "cut at " << cut;
  }
  EXPECT_NE(message_of<templlm::FormatError>("{\"normalizer\": null}").find("model"),
            std::string::npos);
}

TEST(TokenizerLoad, UnknownTypesAreNamed) {
  EXPECT_NE(message_of<templlm::Unsupported>(tiny(R"({"type": "NFKD"})")).find("'NFKD'"),
            std::string::npos);
  EXPECT_NE(message_of<templlm::Unsupported>(tiny("null", R"({"type": "BertPreTokenizer"})"))
                .find("'BertPreTokenizer'"),
            std::string::npos);
  EXPECT_NE(message_of<templlm::Unsupported>(tiny("null", "null", R"({"type": "WordPiece"})"))
                .find("'WordPiece'"),
            std::string::npos);
  EXPECT_NE(message_of<templlm::Unsupported>(tiny("null", "null", "null", "[]", "Unigram"))
                .find("'Unigram'"),
            std::string::npos);
  // Inside a Sequence too.
  EXPECT_NE(
      message_of<templlm::Unsupported>(
          tiny(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]})"))
          .find("'Lowercase'"),
      std::string::npos);
}

TEST(TokenizerLoad, MergesWithMissingTokensAreNamed) {
  const std::string msg =
      message_of<templlm::FormatError>(tiny("null", "null", "null", R"(["a b", "ab zz"])"));
  EXPECT_NE(msg.find("'zz'"), std::string::npos) << msg;
  EXPECT_NE(
      message_of<templlm::FormatError>(tiny("null", "null", "null", R"(["b c"])")).find("'bc'"),
      std::string::npos);
  EXPECT_NE(message_of<templlm::FormatError>(tiny("null", "null", "null", R"(["a b c"])")),
            "no exception");
}

TEST(TokenizerLoad, BadRegexIsAFormatError) {
  const std::string pre =
      R"({"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated",)"
      R"( "invert": false})";
  EXPECT_NE(message_of<templlm::FormatError>(tiny("null", pre)).find("(unclosed"),
            std::string::npos);
}

TEST(TokenizerLoad, MissingFileIsAnIoError) {
  EXPECT_THROW((void)Tokenizer::from_file("/nonexistent/tokenizer.json"), templlm::IoError);
}

TEST(TokenizerEncode, InvalidUtf8NeverCrashes) {
  const auto& t = templlm::test::cached_tokenizer("qwen3");
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) & 0xFF);
  const auto ids = t.encode(junk);
  EXPECT_FALSE(ids.empty());
  EXPECT_TRUE(templlm::tokenizer::utf8::is_valid(t.decode(ids)));
  EXPECT_TRUE(t.encode("").empty());
}

}  // namespace
