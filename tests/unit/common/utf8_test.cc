#include "parley/common/utf8.h"

#include <string>

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(Utf8Test, CountsAsciiBytesAsCharacters) {
  EXPECT_EQ(CountUtf8Chars(""), 0u);
  EXPECT_EQ(CountUtf8Chars("hello"), 5u);
}

TEST(Utf8Test, CountsMultiByteSequencesOnce) {
  EXPECT_EQ(CountUtf8Chars("h\xC3\xA9llo"), 5u);         // é
  EXPECT_EQ(CountUtf8Chars("\xE2\x82\xAC"), 1u);         // €
  EXPECT_EQ(CountUtf8Chars("\xF0\x9F\x98\x80 ok"), 4u);  // 😀
  EXPECT_EQ(CountUtf8Chars("\xF4\x8F\xBF\xBF"), 1u);     // U+10FFFF, the last code point
}

TEST(Utf8Test, RejectsTruncatedSequences) {
  EXPECT_FALSE(CountUtf8Chars("\xC3"));
  EXPECT_FALSE(CountUtf8Chars("\xE2\x82"));
  EXPECT_FALSE(CountUtf8Chars("abc\xF0\x9F\x98"));
}

TEST(Utf8Test, RejectsStrayContinuationAndInvalidLeadBytes) {
  EXPECT_FALSE(CountUtf8Chars("\x80"));
  EXPECT_FALSE(CountUtf8Chars("a\xBF"));
  EXPECT_FALSE(CountUtf8Chars("\xFF"));
  EXPECT_FALSE(CountUtf8Chars("\xF5\x80\x80\x80"));
}

TEST(Utf8Test, RejectsOverlongForms) {
  EXPECT_FALSE(CountUtf8Chars("\xC0\xAF"));  // '/' in two bytes
  EXPECT_FALSE(CountUtf8Chars("\xC1\xBF"));
  EXPECT_FALSE(CountUtf8Chars("\xE0\x80\xAF"));      // '/' in three bytes
  EXPECT_FALSE(CountUtf8Chars("\xF0\x80\x80\xAF"));  // '/' in four bytes
}

TEST(Utf8Test, RejectsSurrogatesAndCodePointsBeyondUnicode) {
  EXPECT_FALSE(CountUtf8Chars("\xED\xA0\x80"));      // U+D800
  EXPECT_FALSE(CountUtf8Chars("\xED\xBF\xBF"));      // U+DFFF
  EXPECT_TRUE(CountUtf8Chars("\xED\x9F\xBF"));       // U+D7FF, just below the surrogates
  EXPECT_FALSE(CountUtf8Chars("\xF4\x90\x80\x80"));  // U+110000
}

TEST(Utf8Test, RejectsBrokenContinuationInsideSequence) {
  EXPECT_FALSE(CountUtf8Chars("\xE2\x28\xA1"));
  EXPECT_FALSE(CountUtf8Chars("\xF0\x9F\x28\x80"));
}

TEST(Utf8Test, AcceptsEmbeddedNul) { EXPECT_EQ(CountUtf8Chars(std::string("a\0b", 3)), 3u); }

}  // namespace
}  // namespace parley
