#include "src/core/text/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace libra::text {
namespace {

TEST(Utf8Test, DecodesWellFormedSequences) {
  const std::string text = "a\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80";  // a é ▁ 😀
  Utf8Unit u = DecodeUtf8(text, 0);
  EXPECT_EQ(u.codepoint, 'a');
  EXPECT_EQ(u.length, 1u);
  u = DecodeUtf8(text, 1);
  EXPECT_EQ(u.codepoint, 0xE9);
  EXPECT_EQ(u.length, 2u);
  u = DecodeUtf8(text, 3);
  EXPECT_EQ(u.codepoint, 0x2581);
  EXPECT_EQ(u.length, 3u);
  u = DecodeUtf8(text, 6);
  EXPECT_EQ(u.codepoint, 0x1F600);
  EXPECT_EQ(u.length, 4u);
  EXPECT_TRUE(IsValidUtf8(text));
}

TEST(Utf8Test, InvalidBytesAreSingleUnits) {
  for (const std::string& bad : {
           std::string("\x80"),              // stray continuation
           std::string("\xC0\x80"),          // overlong NUL
           std::string("\xE0\x80\xAF"),      // overlong '/'
           std::string("\xED\xA0\x80"),      // UTF-16 surrogate
           std::string("\xF4\x90\x80\x80"),  // past U+10FFFF
           std::string("\xE2\x82"),          // truncated
           std::string("\xFF"),
       }) {
    const Utf8Unit u = DecodeUtf8(bad, 0);
    EXPECT_EQ(u.codepoint, kInvalidCodepoint) << bad.size();
    EXPECT_EQ(u.length, 1u);
    EXPECT_FALSE(IsValidUtf8(bad));
  }
}

TEST(Utf8Test, SplitCoversEveryByte) {
  const std::string text = "x\xE2\x82y\xC3\xA9\xFF";
  const std::vector<absl::string_view> units = SplitUtf8(text);
  ASSERT_EQ(units.size(), 6u);  // x, E2, 82, y, é, FF
  EXPECT_EQ(units[4], "\xC3\xA9");
  std::string joined;
  for (absl::string_view unit : units) joined.append(unit.data(), unit.size());
  EXPECT_EQ(joined, text);
}

TEST(Utf8Test, AppendEncodesAtEveryLengthBoundary) {
  for (int32_t cp : {0x00, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF}) {
    std::string encoded;
    AppendUtf8(cp, &encoded);
    const Utf8Unit u = DecodeUtf8(encoded, 0);
    EXPECT_EQ(u.codepoint, cp);
    EXPECT_EQ(u.length, encoded.size());
  }
  std::string euro;
  AppendUtf8(0x20AC, &euro);
  EXPECT_EQ(euro, "\xE2\x82\xAC");
}

// Each invalid byte becomes U+FFFD (EF BF BD); valid sequences stay as
// they are, so valid text is unchanged.
TEST(Utf8Test, ReplaceInvalidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(ReplaceInvalidUtf8("a\xE2\x82\xAC b"), "a\xE2\x82\xAC b");
  EXPECT_EQ(ReplaceInvalidUtf8("x\xBDy"), "x\xEF\xBF\xBDy");
  // A truncated 3-byte sequence: two bad bytes, two replacements.
  EXPECT_EQ(ReplaceInvalidUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceInvalidUtf8(""), "");
  EXPECT_TRUE(IsValidUtf8(ReplaceInvalidUtf8("\xC0\xAF\xED\xA0\x80z")));
}

}  // namespace
}  // namespace libra::text
