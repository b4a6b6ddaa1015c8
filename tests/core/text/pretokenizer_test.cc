#include "src/core/text/pretokenizer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/core/text/unicode_class.h"

namespace libra::text {
namespace {

using Pieces = std::vector<std::string>;

Pieces Split(PreTokenizerRegex regex, const std::string& text) {
  Pieces pieces;
  for (absl::string_view piece : PreTokenize(regex, text)) pieces.emplace_back(piece);
  return pieces;
}

constexpr auto kGpt2 = PreTokenizerRegex::kGpt2;
constexpr auto kCl100k = PreTokenizerRegex::kCl100k;
constexpr auto kQwen2 = PreTokenizerRegex::kQwen2;

// Expected pieces below follow the regexes' alternatives by hand.
TEST(PreTokenizerTest, Gpt2Basics) {
  EXPECT_EQ(Split(kGpt2, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(Split(kGpt2, "it's 42 cats!"), (Pieces{"it", "'s", " 42", " cats", "!"}));
  // Contractions are case-sensitive in GPT-2.
  EXPECT_EQ(Split(kGpt2, "DON'T"), (Pieces{"DON", "'", "T"}));
  EXPECT_EQ(Split(kGpt2, "we'll they're I'm"),
            (Pieces{"we", "'ll", " they", "'re", " I", "'m"}));
  // A space attaches to the next word; a longer run gives its last space away.
  EXPECT_EQ(Split(kGpt2, "a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(Split(kGpt2, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split(kGpt2, "a \tb"), (Pieces{"a", " ", "\t", "b"}));
  EXPECT_EQ(Split(kGpt2, "end  "), (Pieces{"end", "  "}));
  EXPECT_EQ(Split(kGpt2, "Hi!!\n\nNext"), (Pieces{"Hi", "!!", "\n", "\n", "Next"}));
  EXPECT_EQ(Split(kGpt2, "x = (y+1);"), (Pieces{"x", " =", " (", "y", "+", "1", ");"}));
  EXPECT_EQ(Split(kGpt2, "12345 abc123"), (Pieces{"12345", " abc", "123"}));
}

TEST(PreTokenizerTest, Gpt2NonAscii) {
  EXPECT_EQ(Split(kGpt2, "na\xC3\xAFve caf\xC3\xA9"), (Pieces{"na\xC3\xAFve", " caf\xC3\xA9"}));
  // 日本語 テスト: ideographs and katakana are letters.
  EXPECT_EQ(Split(kGpt2, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88"),
            (Pieces{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", " \xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88"}));
  // ² is a number; a no-break space is whitespace but not the optional ' '.
  EXPECT_EQ(Split(kGpt2, "x\xC2\xB2"), (Pieces{"x", "\xC2\xB2"}));
  EXPECT_EQ(Split(kGpt2, "a\xC2\xA0" "b"), (Pieces{"a", "\xC2\xA0", "b"}));
  // An emoji is "other", like punctuation.
  EXPECT_EQ(Split(kGpt2, "hi \xF0\x9F\x91\x8B!"), (Pieces{"hi", " \xF0\x9F\x91\x8B!"}));
  // Invalid bytes are "other" and never lost.
  EXPECT_EQ(Split(kGpt2, "a\xFF\xFE" "b"), (Pieces{"a", "\xFF\xFE", "b"}));
}

TEST(PreTokenizerTest, Cl100kAndQwen2) {
  EXPECT_EQ(Split(kCl100k, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(Split(kCl100k, "12345"), (Pieces{"123", "45"}));
  EXPECT_EQ(Split(kQwen2, "12345"), (Pieces{"1", "2", "3", "4", "5"}));
  // Numbers take no leading space: " " is matched by \s+ alone.
  EXPECT_EQ(Split(kCl100k, "a 123"), (Pieces{"a", " ", "123"}));
  // Contractions ignore case.
  EXPECT_EQ(Split(kCl100k, "DON'T"), (Pieces{"DON", "'T"}));
  // Any single non-letter, non-number, non-newline may lead a word.
  EXPECT_EQ(Split(kCl100k, "(hello)\tworld"), (Pieces{"(hello", ")", "\tworld"}));
  // Punctuation absorbs the line breaks after it; a whitespace run ends at its
  // last line break.
  EXPECT_EQ(Split(kCl100k, "Hi!!\n\nNext"), (Pieces{"Hi", "!!\n\n", "Next"}));
  EXPECT_EQ(Split(kCl100k, "a\n\n b"), (Pieces{"a", "\n\n", " b"}));
  EXPECT_EQ(Split(kCl100k, "a \n  \n  b"), (Pieces{"a", " \n  \n", " ", " b"}));
  EXPECT_EQ(Split(kCl100k, "x  "), (Pieces{"x", "  "}));
}

TEST(PreTokenizerTest, PiecesAlwaysConcatenateToTheInput) {
  const std::vector<std::string> alphabet = {"a", "Z", "7", " ", "  ", "\n", "\t", "'", "'s", "!",
                                             "\xC3\xA9", "\xE2\x96\x81", "\xFF", "\xC2\xA0", "\xE4\xB8\xAD"};
  uint64_t state = 1;
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int length = trial % 13;
    for (int i = 0; i < length; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      text += alphabet[(state >> 33) % alphabet.size()];
    }
    for (PreTokenizerRegex regex : {kGpt2, kCl100k, kQwen2}) {
      std::string joined;
      for (absl::string_view piece : PreTokenize(regex, text)) {
        EXPECT_FALSE(piece.empty());
        joined.append(piece.data(), piece.size());
      }
      EXPECT_EQ(joined, text);
    }
  }
}

TEST(PreTokenizerTest, RecognisesRegexSources) {
  EXPECT_EQ(FindPreTokenizerRegex(
                R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"),
            kGpt2);
  EXPECT_EQ(FindPreTokenizerRegex(PreTokenizerRegexSource(kCl100k)), kCl100k);
  EXPECT_EQ(FindPreTokenizerRegex(PreTokenizerRegexSource(kQwen2)), kQwen2);
  EXPECT_EQ(FindPreTokenizerRegex(
                R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
            kCl100k);
  EXPECT_FALSE(FindPreTokenizerRegex(R"(\w+|\s+)").has_value());
}

TEST(UnicodeClassTest, AsciiAndCommonScripts) {
  for (int c = 0; c < 128; ++c) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool space = c == ' ' || (c >= 9 && c <= 13);
    EXPECT_EQ(IsLetter(c), letter) << c;
    EXPECT_EQ(IsNumber(c), digit) << c;
    EXPECT_EQ(IsWhitespace(c), space) << c;
  }
  for (int32_t letter : {0xE9, 0x3B1, 0x436, 0x5D0, 0x627, 0x915, 0xE01, 0x3042, 0x30AB, 0x4E2D, 0xAC00}) {
    EXPECT_TRUE(IsLetter(letter)) << std::hex << letter;
  }
  for (int32_t other : {0xD7, 0xF7, 0x2014, 0x20AC, 0x1F600, 0x300, -1}) {
    EXPECT_FALSE(IsLetter(other) || IsNumber(other) || IsWhitespace(other)) << std::hex << other;
  }
  for (int32_t number : {0xB2, 0x663, 0x2160, 0xFF11}) EXPECT_TRUE(IsNumber(number)) << number;
  for (int32_t space : {0x85, 0xA0, 0x2003, 0x3000}) EXPECT_TRUE(IsWhitespace(space)) << space;
}

}  // namespace
}  // namespace libra::text
