#include "src/core/text/model_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/core/text/byte_tokenizer.h"

namespace libra::text {
namespace {

using ::testing::HasSubstr;

// A two-letter BPE vocabulary: "a", "b" and their merge "ab".
constexpr char kTinyBpe[] = R"({"version": "1.0", "added_tokens": [], "normalizer": null,
  "pre_tokenizer": null, "post_processor": null, "decoder": null,
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})";

std::string Folder(const std::string& name) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ModelTokenizerTest, WithoutTokenizerJsonIsByteLevel) {
  auto tokenizer = LoadModelTokenizer(Folder("plain"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const ByteTokenizer reference;
  EXPECT_EQ((*tokenizer)->vocab_size(), reference.vocab_size());
  EXPECT_EQ(*(*tokenizer)->Encode("ab"), *reference.Encode("ab"));
}

TEST(ModelTokenizerTest, TokenizerJsonWins) {
  const std::string dir = Folder("bpe");
  std::ofstream(dir + "/tokenizer.json") << kTinyBpe;
  auto tokenizer = LoadModelTokenizer(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 3);
  EXPECT_EQ(*(*tokenizer)->Encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_TRUE(CheckTokenizerFitsModel(**tokenizer, 3, dir).ok());
  absl::Status too_small = CheckTokenizerFitsModel(**tokenizer, 2, dir);
  EXPECT_THAT(too_small.message(),
              HasSubstr(dir + ": tokenizer has 3 tokens but the model's vocab_size is 2 (tokenizer.json)"));
}

TEST(ModelTokenizerTest, BrokenTokenizerJsonIsAnErrorNotAFallback) {
  const std::string dir = Folder("broken");
  std::ofstream(dir + "/tokenizer.json") << "{\"model\": ";
  auto tokenizer = LoadModelTokenizer(dir);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr(dir + "/tokenizer.json"));
}

TEST(ModelTokenizerTest, ByteLevelTooLargeNamesTheFallback) {
  const ByteTokenizer bytes;
  absl::Status status = CheckTokenizerFitsModel(bytes, 67, "models/tiny");
  EXPECT_THAT(status.message(), HasSubstr("(no tokenizer.json: byte-level tokenizer)"));
}

}  // namespace
}  // namespace libra::text
