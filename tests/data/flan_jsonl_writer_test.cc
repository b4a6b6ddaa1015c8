#include "src/data/flan_jsonl_writer.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/data/flan_jsonl_reader.h"

namespace libra::data {
namespace {

std::string TempPath(const std::string& name) {
  return std::string(getenv("TEST_TMPDIR")) + "/" + name;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(FlanJsonlWriterTest, ExactLineFormat) {
  auto line = FlanJsonLine({"say \"hi\"\n", "\xC3\xA9", "t", "train"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line,
            "{\"source\": \"say \\\"hi\\\"\\n\", \"target\": \"\xC3\xA9\", \"task_name\": \"t\", "
            "\"split\": \"train\"}\n");
}

TEST(FlanJsonlWriterTest, RoundTripsThroughTheReader) {
  const std::vector<FlanExample> examples = {
      {"Reverse: ABC", "CBA", "letters_reverse", "train"},
      {"tab\there, quote \" and backslash \\", "", "x", "validation"},
      {"{\"json\": 1}", "\xE2\x96\x81 \xF0\x9F\x98\x80", "", "test"},
      {"2+2?", "4", "arith", "test", {"3", "4", "5"}},
  };
  const std::string path = TempPath("round.jsonl");
  ASSERT_TRUE(WriteFlanJsonl(path, examples).ok());
  auto read = ReadFlanJsonl(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, examples);
}

TEST(FlanJsonlWriterTest, BadExampleLeavesTheOldFileUntouched) {
  const std::string path = TempPath("keep.jsonl");
  ASSERT_TRUE(WriteFlanJsonl(path, {{"old", "file", "t", "train"}}).ok());
  const std::string before = Slurp(path);

  absl::Status bad_utf8 = WriteFlanJsonl(
      path, {{"new", "line", "t", "train"}, {"bad \xFF byte", "x", "t", "train"}});
  EXPECT_EQ(bad_utf8.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_utf8.message().find("source is not UTF-8"), std::string::npos) << bad_utf8;

  absl::Status bad_split = WriteFlanJsonl(path, {{"a", "b", "t", "dev"}});
  EXPECT_EQ(bad_split.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_split.message().find("unknown split \"dev\""), std::string::npos) << bad_split;

  EXPECT_EQ(Slurp(path), before);
}

TEST(FlanJsonlWriterTest, NothingAppearsWithoutCommit) {
  const std::string path = TempPath("uncommitted.jsonl");
  {
    auto writer = FlanJsonlWriter::Create(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(writer->Write({"a", "b", "t", "train"}).ok());
    EXPECT_EQ(writer->count(), 1);
  }
  EXPECT_FALSE(std::ifstream(path).good());
}

}  // namespace
}  // namespace libra::data
