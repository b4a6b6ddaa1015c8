#include "src/core/text/byte_tokenizer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace libra::text {
namespace {

using Ids = std::vector<int32_t>;

TEST(ByteTokenizerTest, DocumentedIds) {
  ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.vocab_size(), 260);
  EXPECT_EQ(*tokenizer.TokenToId("<pad>"), 256);
  EXPECT_EQ(*tokenizer.TokenToId("<bos>"), 257);
  EXPECT_EQ(*tokenizer.TokenToId("<eos>"), 258);
  EXPECT_EQ(*tokenizer.TokenToId("<sep>"), 259);
  EXPECT_EQ(*tokenizer.TokenToId("A"), 65);
  const SpecialIds ids = tokenizer.special_ids();
  EXPECT_EQ(*ids.pad, 256);
  EXPECT_EQ(*ids.bos, 257);
  EXPECT_EQ(*ids.eos, 258);
  EXPECT_EQ(*ids.sep, 259);
  EXPECT_FALSE(ids.unk.has_value());
}

TEST(ByteTokenizerTest, EncodesBytesAndSpecialTokens) {
  ByteTokenizer tokenizer;
  EXPECT_EQ(*tokenizer.Encode("ab<sep>c<eos>"), (Ids{97, 98, 259, 99, 258}));
  EXPECT_EQ(*tokenizer.Encode("\xC3\xA9"), (Ids{0xC3, 0xA9}));
  EncodeOptions options;
  options.add_special_tokens = true;
  options.split_special_tokens = false;
  EXPECT_EQ(*tokenizer.Encode("<eos>", options), (Ids{257, '<', 'e', 'o', 's', '>'}));
}

TEST(ByteTokenizerTest, RoundTripsEveryByte) {
  ByteTokenizer tokenizer;
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  auto ids = tokenizer.Encode(all);
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ((*ids)[b], b);
  EXPECT_EQ(*tokenizer.Decode(*ids), all);
  for (const char* text : {"", "Reverse the letters: QMBXT", "a\nb\tc", "({[<>]})"}) {
    EXPECT_EQ(*tokenizer.Decode(*tokenizer.Encode(text)), text);
  }
}

TEST(ByteTokenizerTest, DecodeSkipsSpecialsOnRequestAndRejectsBadIds) {
  ByteTokenizer tokenizer;
  DecodeOptions skip;
  skip.skip_special_tokens = true;
  EXPECT_EQ(*tokenizer.Decode(Ids{257, 104, 105, 258, 256}), "<bos>hi<eos><pad>");
  EXPECT_EQ(*tokenizer.Decode(Ids{257, 104, 105, 258, 256}, skip), "hi");
  for (int32_t bad : {-1, 260, 100000}) {
    auto decoded = tokenizer.Decode(Ids{65, bad});
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_NE(decoded.status().message().find("id " + std::to_string(bad) + " outside [0, 260)"),
              std::string::npos);
  }
}

TEST(ByteTokenizerTest, AddedTokensGetNewIds) {
  ByteTokenizer tokenizer;
  auto ids = tokenizer.AddTokens({"<plan_a>", "<plan_b>", "<eos>", "x"}, /*special=*/false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{260, 261, 258, 'x'}));
  EXPECT_EQ(tokenizer.vocab_size(), 262);
  EXPECT_EQ(*tokenizer.Encode("1<plan_b>2<plan_a>"), (Ids{'1', 261, '2', 260}));
  EXPECT_EQ(*tokenizer.Decode(Ids{'1', 261}), "1<plan_b>");
  // Non-special added tokens survive skip_special_tokens.
  DecodeOptions skip;
  skip.skip_special_tokens = true;
  EXPECT_EQ(*tokenizer.Decode(Ids{258, 260}, skip), "<plan_a>");
  EXPECT_EQ(*tokenizer.IdToToken(261), "<plan_b>");
  EXPECT_EQ(tokenizer.AddTokens({"<plan_b>"}, false)->front(), 261);
}

}  // namespace
}  // namespace libra::text
