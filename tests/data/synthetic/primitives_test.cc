#include "src/data/synthetic/primitives.h"

#include "gtest/gtest.h"

namespace libra::data::synthetic {
namespace {

std::string S(const Items& items) { return Join(items, ""); }
std::string W(const Items& items) { return Join(items, " "); }

TEST(PrimitivesTest, OrderOperations) {
  EXPECT_EQ(S(Reverse(Chars("QMBXT"))), "TXBMQ");
  EXPECT_EQ(S(SortAscending(Chars("QMBXT"))), "BMQTX");
  EXPECT_EQ(S(SortDescending(Chars("3141"))), "4311");
  EXPECT_EQ(S(RotateLeft(Chars("ABCDE"), 1)), "BCDEA");
  EXPECT_EQ(S(RotateLeft(Chars("ABCDE"), 7)), "CDEAB");
  EXPECT_EQ(S(RotateLeft(Chars("ABC"), -1)), "CAB");
  EXPECT_EQ(W(SortAscending(Words("sun cat map"))), "cat map sun");
  EXPECT_EQ(W(Reverse(Words("sun cat map"))), "map cat sun");
  EXPECT_TRUE(Reverse({}).empty());
  EXPECT_TRUE(RotateLeft({}, 3).empty());
}

TEST(PrimitivesTest, Selections) {
  EXPECT_EQ(S(Dedupe(Chars("XSSISXSXK"))), "XSIK");
  EXPECT_EQ(S(EveryKth(Chars("ABCDEFG"), 2)), "BDF");
  EXPECT_EQ(S(EveryKth(Chars("ABCDEFG"), 3)), "CF");
  EXPECT_EQ(S(EveryKth(Chars("A"), 2)), "");
  EXPECT_EQ(S(KeepOpenBrackets(Chars("(}}](<}"))), "((<");
}

TEST(PrimitivesTest, Maps) {
  EXPECT_EQ(S(Shift(Chars("AYZ"), kUpperLetters, 1)), "BZA");
  EXPECT_EQ(S(Shift(Chars("AYZ"), kUpperLetters, -1)), "ZXY");
  EXPECT_EQ(S(Shift(Chars("0919"), kDigits, 1)), "1020");
  EXPECT_EQ(S(MirrorBrackets(Chars("([{<>}])"))), ")]}><{[(");
  EXPECT_EQ(W(Uppercase(Words("fox van"))), "FOX VAN");
}

TEST(PrimitivesTest, WordParts) {
  EXPECT_EQ(S(FirstLetters(Words("rat zip net ink"))), "rzni");
  EXPECT_EQ(S(LastLetters(Words("dog van gem pen"))), "gnmn");
}

TEST(PrimitivesTest, Reductions) {
  EXPECT_EQ(S(Count(Words("a b c d"))), "4");
  EXPECT_EQ(S(CountOdd(Chars("372610"))), "3");
  EXPECT_EQ(S(CountEven(Chars("0122070"))), "5");
  EXPECT_EQ(S(CountOpenBrackets(Chars("}[[>))[["))), "4");
  EXPECT_EQ(S(CountCloseBrackets(Chars("[]<[)(<}"))), "3");
  EXPECT_EQ(S(DigitSum(Chars("5665053"))), "30");
  EXPECT_EQ(S(MaxItem(Chars("801053"))), "8");
  EXPECT_EQ(S(MinItem(Chars("797591"))), "1");
}

TEST(PrimitivesTest, Brackets) {
  EXPECT_EQ(S(IsBalanced(Chars("([]{<>})"))), "yes");
  EXPECT_EQ(S(IsBalanced(Chars("{{{(}}}}"))), "no");
  EXPECT_EQ(S(IsBalanced(Chars("([)]"))), "no");
  EXPECT_EQ(S(IsBalanced(Chars("(("))), "no");
  EXPECT_EQ(S(IsBalanced(Chars("))"))), "no");
  EXPECT_EQ(S(ClosingBrackets(Chars("{((<<{"))), "}>>))}");
}

}  // namespace
}  // namespace libra::data::synthetic
