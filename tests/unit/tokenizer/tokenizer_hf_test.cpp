// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/tokenizer_hf_test.cpp
/// The five vendored tokenizers against Hugging Face: id for id on the corpus fixtures
/// (tools/make_tokenizer_fixtures.py) and on expected_encodings.jsonl (transformers.js), decodes,
/// streaming decodes, and the special-token ids the model descriptions rely on.
#include <gtest/gtest.h>

#include "templlm/tokenizer/utf8.hpp"
#include "tokenizer_test_support.hpp"

namespace {

using templlm::test::cached_tokenizer;
using templlm::test::read_jsonl;
using templlm::test::tokenizer_dir;
using templlm::tokenizer::Tokenizer;

class HfTokenizer : public ::testing::TestWithParam<std::string> {};

std::vector<std::uint32_t> ids_of(const nlohmann::json& j, const char* key) {
  return j.at(key).get<std::vector<std::uint32_t>>();
}

TEST_P(HfTokenizer, MatchesHfOnCorpus) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  const auto records = read_jsonl(tokenizer_dir(GetParam()) / "hf_fixtures.jsonl");
  ASSERT_GT(records.size(), 50u);
  std::size_t texts = 0;
  for (const auto& r : records) {
    if (r.contains("hex")) continue;
    ++texts;
    const std::string text = r.at("text").get<std::string>();
    EXPECT_EQ(tok.encode(text), ids_of(r, "ids")) << text;
    EXPECT_EQ(tok.encode(text, true), ids_of(r, "ids_special")) << text;
  }
  EXPECT_GT(texts, 50u);
}

TEST_P(HfTokenizer, DecodesLikeHf) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  for (const auto& r : read_jsonl(tokenizer_dir(GetParam()) / "hf_fixtures.jsonl")) {
    if (r.contains("hex")) continue;
    EXPECT_EQ(tok.decode(ids_of(r, "ids")), r.at("decoded").get<std::string>());
    EXPECT_EQ(tok.decode(ids_of(r, "ids_special"), true),
              r.at("decoded_skip_special").get<std::string>());
  }
}

TEST_P(HfTokenizer, RoundTripsWhereHfDoes) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  std::size_t round_trips = 0;
  for (const auto& r : read_jsonl(tokenizer_dir(GetParam()) / "hf_fixtures.jsonl")) {
    if (r.contains("hex") || r.at("decoded") != r.at("text")) continue;
    const std::string text = r.at("text").get<std::string>();
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
    ++round_trips;
  }
  EXPECT_GT(round_trips, 30u);  // mistral drops the leading space of a line, the others little
}

TEST_P(HfTokenizer, MatchesExpectedEncodings) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  const auto records = read_jsonl(tokenizer_dir(GetParam()) / "expected_encodings.jsonl");
  ASSERT_FALSE(records.empty());
  for (const auto& r : records) {
    const std::string text = r.at("text").get<std::string>();
    const auto ids = tok.encode(text);
    EXPECT_EQ(ids, ids_of(r, "ids")) << text;
    if (r.at("roundtrip").get<bool>()) {
      EXPECT_EQ(tok.decode(ids), text);
    }
  }
}

TEST_P(HfTokenizer, RepairsInvalidUtf8AsPythonReplace) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  std::size_t cases = 0;
  for (const auto& r : read_jsonl(tokenizer_dir(GetParam()) / "hf_fixtures.jsonl")) {
    if (!r.contains("hex")) continue;
    const std::string bytes = templlm::test::from_hex(r.at("hex").get<std::string>());
    EXPECT_EQ(templlm::tokenizer::utf8::sanitize(bytes), r.at("text").get<std::string>());
    EXPECT_EQ(tok.encode(bytes), ids_of(r, "ids")) << r.at("hex");
    ++cases;
  }
  EXPECT_GT(cases, 10u);
}

TEST_P(HfTokenizer, StreamingEqualsFullDecodeAndNeverSplitsCharacters) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  for (const auto& r : read_jsonl(tokenizer_dir(GetParam()) / "hf_fixtures.jsonl")) {
    for (const bool skip : {false, true}) {
      const auto ids = ids_of(r, "ids");
      auto sd = tok.stream_decoder(skip);
      std::string acc;
      for (const auto id : ids) {
        const std::string piece = sd.step(id);
        EXPECT_TRUE(templlm::tokenizer::utf8::is_valid(piece));
        acc += piece;
      }
      acc += sd.finish();
      EXPECT_EQ(acc, tok.decode(ids, skip));
    }
  }
}

TEST_P(HfTokenizer, DecodeRejectsOutOfRangeIds) {
  const Tokenizer& tok = cached_tokenizer(GetParam());
  const std::vector<std::uint32_t> bad{1, static_cast<std::uint32_t>(tok.vocab_size())};
  EXPECT_THROW((void)tok.decode(bad), templlm::InvalidInput);
  auto sd = tok.stream_decoder();
  EXPECT_THROW((void)sd.step(0xFFFFFFFFu), templlm::InvalidInput);
  EXPECT_THROW((void)tok.id_to_token(static_cast<std::uint32_t>(tok.vocab_size())),
               templlm::InvalidInput);
}

INSTANTIATE_TEST_SUITE_P(AllFive, HfTokenizer,
                         ::testing::ValuesIn(templlm::test::tokenizer_names()),
                         [](const auto& info) { return info.param; });

TEST(TokenizerIds, SpecialTokensOfTheModelDescriptions) {
  const auto& g = cached_tokenizer("gptoss");
  EXPECT_EQ(g.vocab_size(), 200019u);
  EXPECT_EQ(g.token_to_id("<|return|>"), 200002u);
  EXPECT_EQ(g.token_to_id("<|start|>"), 200006u);
  EXPECT_EQ(g.token_to_id("<|channel|>"), 200005u);
  EXPECT_EQ(g.token_to_id("<|call|>"), 200012u);
  const auto& q = cached_tokenizer("qwen3");
  EXPECT_EQ(q.vocab_size(), 151669u);
  EXPECT_EQ(q.token_to_id("<|im_end|>"), 151645u);
  EXPECT_EQ(q.token_to_id("<think>"), 151667u);
  EXPECT_FALSE(q.is_special(151667));  // <think> is a plain added token in Qwen3
  const auto& d = cached_tokenizer("deepseek_v3");
  // The vendored file is V3's: R1 renamed these two placeholders to <think> and </think>.
  EXPECT_EQ(d.token_to_id("<\xEF\xBD\x9Cplace\xE2\x96\x81holder\xE2\x96\x81no\xE2\x96\x81"
                          "798\xEF\xBD\x9C>"),
            128798u);
  EXPECT_FALSE(d.token_to_id("<think>").has_value());
  EXPECT_EQ(d.token_to_id("<\xEF\xBD\x9CUser\xEF\xBD\x9C>"), 128803u);
  EXPECT_EQ(d.token_to_id("<\xEF\xBD\x9C"
                          "Assistant\xEF\xBD\x9C>"),
            128804u);
  const auto& l = cached_tokenizer("llama3_1");
  EXPECT_EQ(l.token_to_id("<|eot_id|>"), 128009u);
  const auto& m = cached_tokenizer("mistral");
  EXPECT_EQ(m.vocab_size(), 32000u);
  EXPECT_EQ(m.token_to_id("</s>"), 2u);
  EXPECT_EQ(m.token_to_id("<0x0A>"), 13u);
}

TEST(TokenizerConfig, AddBosFromTokenizerConfig) {
  // DeepSeek's tokenizer.json has no template but tokenizer_config.json says add_bos_token.
  const auto ds = Tokenizer::from_folder(tokenizer_dir("deepseek_v3"));
  EXPECT_EQ(ds.bos_id(), 0u);
  EXPECT_EQ(ds.eos_id(), 1u);
  const auto plain = ds.encode("Hello");
  auto with = plain;
  with.insert(with.begin(), 0u);
  EXPECT_EQ(ds.encode("Hello", true), with);
  EXPECT_FALSE(ds.chat_template().empty());
  // Qwen3: add_bos_token false, no bos.
  const auto qw = Tokenizer::from_folder(tokenizer_dir("qwen3"));
  EXPECT_EQ(qw.encode("Hello", true), qw.encode("Hello"));
  EXPECT_EQ(qw.eos_id(), 151645u);
  // Mistral: the template's <s> and the config's agree.
  const auto mi = Tokenizer::from_folder(tokenizer_dir("mistral"));
  EXPECT_EQ(mi.encode("Hello", true).front(), 1u);
  EXPECT_EQ(mi.encode("Hello", true).size(), mi.encode("Hello").size() + 1);
}

}  // namespace
