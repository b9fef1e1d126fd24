// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/tokenizer/unicode_test.cpp
/// UTF-8 repair and NFC normalisation on their own.
#include <gtest/gtest.h>

#include "templlm/tokenizer/nfc.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace {

namespace tk = templlm::tokenizer;

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  EXPECT_EQ(tk::utf8::sanitize("a\xE2\x82"
                               "b"),
            "a\xEF\xBF\xBD"
            "b");                                                         // one U+FFFD
  EXPECT_EQ(tk::utf8::sanitize("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // two
  EXPECT_EQ(tk::utf8::sanitize("\xED\xA0\x80"),
            std::string(3 * 3, ' ')
                .replace(0, 9,
                         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));  // surrogate
  EXPECT_TRUE(tk::utf8::is_valid("h\xC3\xA9llo \xF0\x9F\x98\x80"));
  EXPECT_FALSE(tk::utf8::is_valid("\xF4\x90\x80\x80"));
}

TEST(Utf8, CompletePrefixHoldsBackOnlyIncompleteCharacters) {
  EXPECT_EQ(tk::utf8::complete_prefix("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(tk::utf8::complete_prefix("ab\xF0\x9F\x98\x80"), 6u);
  EXPECT_EQ(tk::utf8::complete_prefix("ab\xC3"), 2u);
  EXPECT_EQ(tk::utf8::complete_prefix("ab\xFF"), 3u);      // invalid: final already
  EXPECT_EQ(tk::utf8::complete_prefix("ab\xF0\x80"), 4u);  // cannot be completed
}

TEST(Nfc, ComposesReordersAndLeavesNfcAlone) {
  EXPECT_EQ(tk::nfc("e\xCC\x81"), "\xC3\xA9");     // e + acute -> é
  EXPECT_EQ(tk::nfc("A\xCC\x8A"), "\xC3\x85");     // A + ring -> Å
  EXPECT_EQ(tk::nfc("\xE2\x84\xAB"), "\xC3\x85");  // Angstrom sign -> Å
  EXPECT_EQ(tk::nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // Hangul LVT
  // o + dot below + circumflex and o + circumflex + dot below both give ộ.
  EXPECT_EQ(tk::nfc("o\xCC\x82\xCC\xA3"), "\xE1\xBB\x99");
  EXPECT_EQ(tk::nfc("o\xCC\xA3\xCC\x82"), "\xE1\xBB\x99");
  EXPECT_EQ(tk::nfc("plain ascii"), "plain ascii");
  EXPECT_TRUE(tk::nfc_quick_check("d\xC3\xA9j\xC3\xA0 vu"));
  EXPECT_FALSE(tk::nfc_quick_check("e\xCC\x81"));
}

}  // namespace
