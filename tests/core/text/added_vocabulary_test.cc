#include "src/core/text/added_vocabulary.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace libra::text {
namespace {

using Segments = std::vector<std::pair<std::string, int32_t>>;

Segments Split(const AddedVocabulary& vocabulary, const std::string& text, bool match_special = true) {
  Segments out;
  for (const AddedVocabulary::Segment& s : vocabulary.Split(text, match_special)) {
    out.emplace_back(std::string(s.text), s.id);
  }
  return out;
}

TEST(AddedVocabularyTest, LeftmostThenLongest) {
  AddedVocabulary v;
  ASSERT_TRUE(v.Add({10, "ab", false}).ok());
  ASSERT_TRUE(v.Add({11, "abc", false}).ok());
  ASSERT_TRUE(v.Add({12, "bcd", false}).ok());
  EXPECT_EQ(Split(v, "xabcdy"), (Segments{{"x", -1}, {"abc", 11}, {"dy", -1}}));
  EXPECT_EQ(Split(v, "abab"), (Segments{{"ab", 10}, {"ab", 10}}));
  EXPECT_EQ(Split(v, "plain"), (Segments{{"plain", -1}}));
  EXPECT_EQ(Split(v, ""), Segments{});
  EXPECT_EQ(v.end_id(), 13);
}

TEST(AddedVocabularyTest, SpecialTokensCanBeLeftAsText) {
  AddedVocabulary v;
  ASSERT_TRUE(v.Add({5, "<eos>", true}).ok());
  ASSERT_TRUE(v.Add({6, "<plan>", false}).ok());
  EXPECT_EQ(Split(v, "a<eos><plan>"), (Segments{{"a", -1}, {"<eos>", 5}, {"<plan>", 6}}));
  EXPECT_EQ(Split(v, "a<eos><plan>", false), (Segments{{"a<eos>", -1}, {"<plan>", 6}}));
}

TEST(AddedVocabularyTest, StripAndSingleWord) {
  AddedVocabulary v;
  AddedToken mask{7, "<m>", true};
  mask.lstrip = true;
  mask.rstrip = true;
  ASSERT_TRUE(v.Add(mask).ok());
  AddedToken cat{8, "cat", false};
  cat.single_word = true;
  ASSERT_TRUE(v.Add(cat).ok());
  EXPECT_EQ(Split(v, "a  <m>\t b"), (Segments{{"a", -1}, {"  <m>\t ", 7}, {"b", -1}}));
  EXPECT_EQ(Split(v, "cat concat cats cat"),
            (Segments{{"cat", 8}, {" concat cats ", -1}, {"cat", 8}}));
}

TEST(AddedVocabularyTest, RejectsConflicts) {
  AddedVocabulary v;
  ASSERT_TRUE(v.Add({1, "<s>", true}).ok());
  EXPECT_TRUE(v.Add({1, "<s>", true}).ok());  // the same entry again is fine
  absl::Status same_content = v.Add({2, "<s>", true});
  EXPECT_EQ(same_content.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(same_content.message().find("already has id 1"), std::string::npos);
  absl::Status same_id = v.Add({1, "<t>", true});
  EXPECT_EQ(same_id.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(same_id.message().find("already used by \"<s>\""), std::string::npos);
  EXPECT_EQ(v.Add({3, "", true}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.Add({-1, "x", true}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace libra::text
