#include "src/core/text/byte_unicode.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace libra::text {
namespace {

// GPT-2's bytes_to_unicode, as published: the printable ranges first, then
// every other byte takes 256 + n in increasing order.
std::vector<int> ReferenceTable() {
  std::vector<int> table(256, -1);
  std::vector<int> printable;
  for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
  for (int b : printable) table[b] = b;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (table[b] < 0) table[b] = 256 + n++;
  }
  return table;
}

TEST(ByteUnicodeTest, MatchesGpt2Table) {
  const std::vector<int> reference = ReferenceTable();
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(ByteToCodepoint(static_cast<uint8_t>(b)), reference[b]) << b;
    EXPECT_EQ(ByteFromCodepoint(reference[b]), b) << b;
  }
  EXPECT_EQ(ByteToCodepoint(' '), 0x120);   // 'Ġ'
  EXPECT_EQ(ByteToCodepoint('\n'), 0x10A);  // 'Ċ'
  EXPECT_EQ(ByteToCodepoint(0xAD), 0x143);
  EXPECT_EQ(ByteFromCodepoint(0x20), -1);   // space itself is not in the image
  EXPECT_EQ(ByteFromCodepoint(0x144), -1);
}

TEST(ByteUnicodeTest, RoundTripsAllBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(UnicodeToBytes(BytesToUnicode(all)), all);
  EXPECT_EQ(BytesToUnicode("a b\n"), "a\xC4\xA0" "b\xC4\x8A");
  // Characters outside the map (an added token's text) pass through.
  EXPECT_EQ(UnicodeToBytes("\xC4\xA0<|\xE2\x96\x81|>"), " <|\xE2\x96\x81|>");
}

}  // namespace
}  // namespace libra::text
