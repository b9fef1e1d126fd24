// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/tokenizer_hostile_test.cpp
/// tokenizer.json written by an attacker (issue 16): ids that would index or size tables out of
/// range, Sequences nested to overflow the stack, fields on which decoding never advances,
/// invalid UTF-8 in the vocabulary, a regex that backtracks forever, duplicate keys, numbers a
/// double cannot hold and a FIFO in place of the file. Each must be a typed templlm error whose
/// message names the field and what was expected.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/tokenizer.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace {

using templlm::tokenizer::Tokenizer;

/// A tiny BPE tokenizer.json (vocab a b c ab abc, one added token <x> = 5) with any member
/// replaced.
struct Parts {
  std::string added = R"([{"id": 5, "content": "<x>", "special": true}])";
  std::string normalizer = "null", pre = "null", post = "null", decoder = "null";
  std::string vocab = R"({"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4})";
  std::string merges = R"(["a b", "ab c"])";
  std::string json() const {
    return R"({"version": "1.0", "added_tokens": )" + added + R"(, "normalizer": )" + normalizer +
           R"(, "pre_tokenizer": )" + pre + R"(, "post_processor": )" + post +
           R"(, "decoder": )" + decoder + R"(, "model": {"type": "BPE", "vocab": )" + vocab +
           R"(, "merges": )" + merges + "}}";
  }
};

/// The message of the E that loading `json` throws; a description of anything else.
template <class E>
std::string load_error(const std::string& json) {
  try {
    (void)Tokenizer::from_json_text(json, "evil/tokenizer.json");
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

#define EXPECT_HAS(msg, needle) EXPECT_NE((msg).find(needle), std::string::npos) << (msg)

TEST(TokenizerHostile, AddedTokenIdsOutsideTheVocabularyAreRefused) {
  // The bound is the model's 5 tokens plus the 1 added token: ids 0..5.
  for (const char* id : {"-1", "4294967295", "2e9", "6", "1.5", "\"3\"", "18446744073709551615"}) {
    Parts p;
    p.added = std::string(R"([{"id": )") + id + R"(, "content": "<x>", "special": true}])";
    const std::string msg = load_error<templlm::FormatError>(p.json());
    EXPECT_HAS(msg, "evil/tokenizer.json");
    EXPECT_HAS(msg, "added_tokens[0]");
    EXPECT_HAS(msg, "[0, 6)");
  }
  Parts ok;
  ok.added = R"([{"id": 5, "content": "<x>"}, {"id": 2, "content": "<c>"}])";
  EXPECT_EQ(Tokenizer::from_json_text(ok.json()).vocab_size(), 6u);
}

/// `leaf` inside `depth` Sequences whose children are listed under `list`.
std::string nested(const std::string& list, const std::string& leaf, int depth) {
  const std::string open = R"({"type": "Sequence", ")" + list + R"(": [)";
  std::string s;
  s.reserve(std::size_t(depth) * (open.size() + 2) + leaf.size());
  for (int i = 0; i < depth; ++i) s += open;
  s += leaf;
  for (int i = 0; i < depth; ++i) s += "]}";
  return s;
}

TEST(TokenizerHostile, OneDepthLimitForEverySequence) {
  namespace lim = templlm::tokenizer::limits;
  const int ok = lim::max_sequence_depth, bad = lim::max_sequence_depth + 1;
  const auto with = [](int which, const std::string& v) {
    Parts p;
    (which == 0 ? p.normalizer : which == 1 ? p.pre : which == 2 ? p.decoder : p.post) = v;
    return p.json();
  };
  const std::string leaf[] = {R"({"type": "NFC"})", R"({"type": "WhitespaceSplit"})",
                              R"({"type": "Fuse"})", R"({"type": "ByteLevel"})"};
  const std::string list[] = {"normalizers", "pretokenizers", "decoders", "processors"};
  const std::string name[] = {"normalizer", "pre_tokenizer", "decoder", "post_processor"};
  for (int w = 0; w < 4; ++w) {
    SCOPED_TRACE(name[w]);
    EXPECT_NO_THROW((void)Tokenizer::from_json_text(with(w, nested(list[w], leaf[w], ok))));
    const std::string msg =
        load_error<templlm::FormatError>(with(w, nested(list[w], leaf[w], bad)));
    EXPECT_HAS(msg, name[w] + " Sequences nest deeper than " + std::to_string(ok));
    // Far deeper than any stack: refused by the JSON depth bound before any recursion.
    const std::string deep =
        load_error<templlm::FormatError>(with(w, nested(list[w], leaf[w], 100000)));
    EXPECT_HAS(deep, "nests deeper than");
  }
}

TEST(TokenizerHostile, FieldsThatMustBeOneCharacterAreRefusedAtLoad) {
  // HF declares these as `char`: "" would make decoding loop forever, "ab" does not load there.
  for (const char* v : {R"("")", R"("ab")"}) {
    Parts meta_pre;
    meta_pre.pre = std::string(R"({"type": "Metaspace", "replacement": )") + v + "}";
    EXPECT_HAS(load_error<templlm::FormatError>(meta_pre.json()),
               "Metaspace pre_tokenizer replacement must be exactly one character");
    Parts meta_dec;
    meta_dec.decoder = std::string(R"({"type": "Metaspace", "replacement": )") + v + "}";
    EXPECT_HAS(load_error<templlm::FormatError>(meta_dec.json()),
               "Metaspace decoder replacement must be exactly one character");
    Parts strip;
    strip.decoder = std::string(R"({"type": "Strip", "content": )") + v + R"(, "start": 1, "stop": 0})";
    EXPECT_HAS(load_error<templlm::FormatError>(strip.json()),
               "Strip decoder content must be exactly one character");
  }
  Parts fine;
  fine.decoder = R"({"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "\u2581"},)"
                 R"( {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
  EXPECT_EQ(Tokenizer::from_json_text(fine.json()).decode(std::vector<std::uint32_t>{4}), "abc");
}

TEST(TokenizerHostile, InvalidUtf8InTheVocabularyIsRefused) {
  // A byte-level vocabulary entry ending in a lone lead byte, which the byte-level table would
  // otherwise read past.
  Parts p;
  p.pre = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": false})";
  p.vocab = "{\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4, \"x\xF0\": 5}";
  p.added = "[]";
  const std::string msg = load_error<templlm::FormatError>(p.json());
  EXPECT_HAS(msg, "evil/tokenizer.json");
  EXPECT_HAS(msg, "invalid UTF-8 at byte " + std::to_string(p.json().find('\xF0')));
}

TEST(TokenizerHostile, Utf8NextNeverReadsPastTheView) {
  const std::string buf = "\xF0\x9F\x98\x80";  // U+1F600, of which the view sees one byte
  const std::string_view cut(buf.data(), 1);
  std::size_t i = 0;
  EXPECT_EQ(templlm::tokenizer::utf8::next(cut, i), U'\uFFFD');
  EXPECT_EQ(i, 1u);
  i = 0;
  EXPECT_EQ(templlm::tokenizer::utf8::next(buf, i), U'\U0001F600');
  EXPECT_EQ(i, 4u);
}

TEST(TokenizerHostile, CatastrophicBacktrackingIsATypedErrorWithASentence) {
  Parts p;
  p.pre = R"({"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated"})";
  const auto tok = Tokenizer::from_json_text(p.json());
  EXPECT_EQ(tok.encode("ab"), (std::vector<std::uint32_t>{3}));
  try {
    (void)tok.encode(std::string(40, 'a') + "!");
    ADD_FAILURE() << "no exception";
  } catch (const templlm::FormatError& e) {
    const std::string msg = e.what();
    EXPECT_HAS(msg, "templlm: tokenizer: the regex (a+)+$");
    EXPECT_HAS(msg, "backtracks catastrophically");
    EXPECT_HAS(msg, "41 bytes");
  }
}

TEST(TokenizerHostile, EmptyVocabularyIsRefused) {
  Parts p;
  p.vocab = "{}";
  p.merges = "[]";
  p.added = "[]";
  EXPECT_HAS(load_error<templlm::FormatError>(p.json()), "model.vocab is empty");
}

TEST(TokenizerHostile, PostProcessorIdsMustBeInTheVocabulary) {
  const auto templ = [](const std::string& ids) {
    Parts p;
    p.post = R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>"}},)"
             R"( {"Sequence": {"id": "A"}}], "special_tokens": {"<x>": {"id": "<x>", "ids": )" +
             ids + "}}}";
    return p.json();
  };
  EXPECT_EQ(Tokenizer::from_json_text(templ("[5]")).encode("a", true),
            (std::vector<std::uint32_t>{5, 0}));
  for (const char* ids : {"[6]", "[-1]", "[4294967295]", "[5, 1e9]"}) {
    const std::string msg = load_error<templlm::FormatError>(templ(ids));
    EXPECT_HAS(msg, "post_processor special token '<x>'");
    EXPECT_HAS(msg, "[0, 6)");
  }
  Parts bert;
  bert.post = R"({"type": "BertProcessing", "cls": ["<x>", 99], "sep": ["<x>", 5]})";
  EXPECT_HAS(load_error<templlm::FormatError>(bert.json()), "post_processor cls has id 99");
  // An id inside the range that no token has (a hole left by the added tokens).
  Parts hole;
  hole.added = R"([{"id": 6, "content": "<y>"}, {"id": 0, "content": "<a>"}])";
  hole.post = R"({"type": "BertProcessing", "cls": ["<x>", 5], "sep": ["<y>", 6]})";
  EXPECT_HAS(load_error<templlm::FormatError>(hole.json()), "id 5, which no token");
}

TEST(TokenizerHostile, DuplicateKeysAreRefused) {
  Parts p;
  std::string twice = p.json();
  twice.insert(twice.size() - 1, R"(, "model": {"type": "BPE", "vocab": {"z": 0}, "merges": []})");
  EXPECT_HAS(load_error<templlm::FormatError>(twice), "duplicate top-level key \"model\"");
  std::string dec = p.json();
  dec.insert(dec.size() - 1, R"(, "decoder": {"type": "Fuse"})");
  EXPECT_HAS(load_error<templlm::FormatError>(dec), "duplicate top-level key \"decoder\"");
  Parts inner;
  inner.decoder = R"({"type": "Fuse", "type": "ByteLevel"})";
  EXPECT_HAS(load_error<templlm::FormatError>(inner.json()), "duplicate key 'type'");
}

TEST(TokenizerHostile, NumberBeyondDoubleIsAFormatErrorNamingTheFile) {
  Parts p;
  p.decoder = R"({"type": "Strip", "content": " ", "start": 1e400, "stop": 0})";
  const std::string msg = load_error<templlm::FormatError>(p.json());
  EXPECT_HAS(msg, "evil/tokenizer.json");
  EXPECT_HAS(msg, "1e400");
  EXPECT_HAS(msg, "out of range");
}

TEST(TokenizerHostile, FifoInsteadOfTheFileIsAnIoErrorNotAHang) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("templlm_fifo_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_EQ(::mkfifo((dir / "tokenizer.json").c_str(), 0600), 0);
  try {
    (void)Tokenizer::from_folder(dir);
    ADD_FAILURE() << "no exception";
  } catch (const templlm::IoError& e) {
    EXPECT_HAS(std::string(e.what()), (dir / "tokenizer.json").string());
    EXPECT_HAS(std::string(e.what()), "expected a regular file, found a pipe");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
