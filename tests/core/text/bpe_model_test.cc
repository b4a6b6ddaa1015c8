#include "src/core/text/bpe_model.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace libra::text {
namespace {

using Ids = std::vector<int32_t>;

Ids Tokenize(const BpeModel& bpe, const std::string& word) {
  Ids ids;
  absl::Status status = bpe.Tokenize(word, &ids);
  EXPECT_TRUE(status.ok()) << status;
  return ids;
}

// a=0 b=1 c=2 d=3, ab=4 bc=5 abc=6 cd=7; merges by rank: "b c", "a b", "a bc", "c d".
BpeModel Small(BpeModel::Options options = {}) {
  auto bpe = BpeModel::Create({{"a", 0}, {"b", 1}, {"c", 2}, {"d", 3}, {"ab", 4}, {"bc", 5},
                               {"abc", 6}, {"cd", 7}},
                              {{"b", "c"}, {"a", "b"}, {"a", "bc"}, {"c", "d"}}, options);
  EXPECT_TRUE(bpe.ok()) << bpe.status();
  return *std::move(bpe);
}

TEST(BpeModelTest, MergesByRank) {
  const BpeModel bpe = Small();
  // a b c: "b c" (rank 0) beats "a b" (rank 1); then "a bc" (rank 2).
  EXPECT_EQ(Tokenize(bpe, "abc"), (Ids{6}));
  // a b c d: b c first, then a bc; "c d" never gets its c.
  EXPECT_EQ(Tokenize(bpe, "abcd"), (Ids{6, 3}));
  // a b a b: equal ranks merge leftmost first; both pairs merge.
  EXPECT_EQ(Tokenize(bpe, "abab"), (Ids{4, 4}));
  EXPECT_EQ(Tokenize(bpe, "cd"), (Ids{7}));
  EXPECT_EQ(Tokenize(bpe, "dcba"), (Ids{3, 2, 1, 0}));
  EXPECT_EQ(Tokenize(bpe, ""), Ids{});
}

TEST(BpeModelTest, IgnoreMergesTakesWholeWords) {
  BpeModel::Options options;
  options.ignore_merges = true;
  auto bpe = BpeModel::Create({{"a", 0}, {"b", 1}, {"ab", 2}, {"ba", 3}, {"aba", 4}},
                              {{"a", "b"}}, options);
  ASSERT_TRUE(bpe.ok());
  EXPECT_EQ(Tokenize(*bpe, "aba"), (Ids{4}));   // in the vocab: no merging
  EXPECT_EQ(Tokenize(*bpe, "abab"), (Ids{2, 2}));
}

TEST(BpeModelTest, ByteFallbackAndUnknown) {
  std::vector<std::pair<std::string, int32_t>> vocab = {{"<unk>", 0}, {"h", 1}, {"i", 2}, {"hi", 3}};
  for (int b = 0; b < 256; ++b) vocab.emplace_back(absl::StrFormat("<0x%02X>", b), 10 + b);
  BpeModel::Options options;
  options.byte_fallback = true;
  options.unk_token = "<unk>";
  auto bpe = BpeModel::Create(vocab, {{"h", "i"}}, options);
  ASSERT_TRUE(bpe.ok()) << bpe.status();
  // é is C3 A9; the merge still applies around it.
  EXPECT_EQ(Tokenize(*bpe, "hi\xC3\xA9hi"), (Ids{3, 10 + 0xC3, 10 + 0xA9, 3}));

  BpeModel::Options no_fallback;
  no_fallback.unk_token = "<unk>";
  no_fallback.fuse_unk = true;
  auto unk = BpeModel::Create({{"<unk>", 0}, {"h", 1}, {"i", 2}, {"hi", 3}}, {{"h", "i"}}, no_fallback);
  ASSERT_TRUE(unk.ok());
  EXPECT_EQ(Tokenize(*unk, "hi\xC3\xA9xhi"), (Ids{3, 0, 3}));  // é and x fused into one <unk>
  no_fallback.fuse_unk = false;
  unk = BpeModel::Create({{"<unk>", 0}, {"h", 1}, {"i", 2}, {"hi", 3}}, {{"h", "i"}}, no_fallback);
  EXPECT_EQ(Tokenize(*unk, "\xC3\xA9x"), (Ids{0, 0}));

  auto strict = BpeModel::Create({{"h", 0}}, {}, {});
  Ids ids;
  absl::Status status = strict->Tokenize("hx", &ids);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("character 0x78 has no token"), std::string::npos) << status;
}

TEST(BpeModelTest, FromJsonAcceptsBothMergeFormats) {
  const nlohmann::json strings = nlohmann::json::parse(R"({"type": "BPE",
      "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})");
  const nlohmann::json pairs = nlohmann::json::parse(R"({"type": "BPE",
      "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]})");
  for (const auto& json : {strings, pairs}) {
    auto bpe = BpeModel::FromJson(json);
    ASSERT_TRUE(bpe.ok()) << bpe.status();
    EXPECT_EQ(Tokenize(*bpe, "abba"), (Ids{2, 1, 0}));
    EXPECT_EQ(*bpe->IdToToken(2), "ab");
    EXPECT_EQ(bpe->IdToToken(3), nullptr);
    EXPECT_EQ(bpe->end_id(), 3);
  }
}

TEST(BpeModelTest, FromJsonRejectsBadModels) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"type": "WordPiece", "vocab": {}})", "type \"WordPiece\" is not supported"},
      {R"({"type": "BPE"})", "\"vocab\" must be an object"},
      {R"({"type": "BPE", "vocab": {"a": -1}})", "vocab token \"a\": id -1"},
      {R"({"type": "BPE", "vocab": {"a": 0, "b": 0}})", "vocab id 0 is used by both"},
      {R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]})", "merge 0 \"a b\": \"b\" is not in the vocab"},
      {R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]})", "\"ab\" is not in the vocab"},
      {R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]})", "merge 0 \"ab\" is not \"left right\""},
      {R"({"type": "BPE", "vocab": {"a": 0}, "merges": [3]})", "neither"},
      {R"({"type": "BPE", "vocab": {"a": 0}, "unk_token": "<unk>"})", "unk_token \"<unk>\" is not in the vocab"},
      {R"({"type": "BPE", "vocab": {"a": 0}, "byte_fallback": "yes"})", "\"byte_fallback\" must be true or false"},
      {R"({"type": "BPE", "vocab": {"a": 0}, "continuing_subword_prefix": "##"})", "not supported"},
  };
  for (const Case& c : cases) {
    auto bpe = BpeModel::FromJson(nlohmann::json::parse(c.json));
    ASSERT_FALSE(bpe.ok()) << c.json;
    EXPECT_EQ(bpe.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(bpe.status().message().find(c.message), std::string::npos)
        << c.json << " -> " << bpe.status();
  }
}

}  // namespace
}  // namespace libra::text
