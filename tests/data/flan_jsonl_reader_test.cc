#include "src/data/flan_jsonl_reader.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace libra::data {
namespace {

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Reads until the end or the first error; returns the error message or "".
std::string FirstError(const std::string& path, int* examples_before = nullptr) {
  auto reader = FlanJsonlReader::Open(path);
  if (!reader.ok()) return std::string(reader.status().message());
  int count = 0;
  while (true) {
    auto next = reader->Next();
    if (!next.ok()) {
      EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument);
      if (examples_before) *examples_before = count;
      return std::string(next.status().message());
    }
    if (!next->has_value()) break;
    ++count;
  }
  if (examples_before) *examples_before = count;
  return "";
}

TEST(FlanJsonlReaderTest, ReadsFieldsAndSkipsBlankLines) {
  const std::string path = WriteTemp(
      "ok.jsonl",
      "{\"source\": \"a\", \"target\": \"b\", \"task_name\": \"t1\", \"split\": \"test\"}\n"
      "\n"
      "   \r\n"
      "{\"target\": \"d\\n\", \"source\": \"c \\u00e9\", \"task_name\": \"t2\", \"split\": "
      "\"validation\", \"extra\": [1, 2]}\r\n"
      "{\"source\": \"e\", \"target\": \"f\", \"split\": \"train\"}");  // no final newline
  auto examples = ReadFlanJsonl(path);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 3u);
  EXPECT_EQ((*examples)[0], (FlanExample{"a", "b", "t1", "test"}));
  EXPECT_EQ((*examples)[1], (FlanExample{"c \xC3\xA9", "d\n", "t2", "validation"}));
  EXPECT_EQ((*examples)[2], (FlanExample{"e", "f", "", "train"}));
  auto tests_only = ReadFlanJsonl(path, {}, std::string("test"));
  ASSERT_TRUE(tests_only.ok());
  ASSERT_EQ(tests_only->size(), 1u);
  EXPECT_EQ((*tests_only)[0].source, "a");
}

TEST(FlanJsonlReaderTest, ErrorsNameFileAndLine) {
  const std::string good = "{\"source\": \"a\", \"target\": \"b\"}\n";
  struct Case {
    std::string bad_line;
    std::string message;
  };
  const Case cases[] = {
      {"{\"source\": \"a\", \"target\": }", "bad JSON: "},
      {"{\"source\": \"a\"", "bad JSON: "},
      {"[1, 2]", "expected a JSON object, got array"},
      {"\"text\"", "expected a JSON object, got string"},
      {"{\"target\": \"b\"}", "missing \"source\""},
      {"{\"source\": \"a\"}", "missing \"target\""},
      {"{\"source\": 3, \"target\": \"b\"}", "\"source\" must be a string, got number"},
      {"{\"source\": \"a\", \"target\": null}", "\"target\" must be a string, got null"},
      {"{\"source\": \"a\", \"target\": \"b\", \"task_name\": [\"x\"]}",
       "\"task_name\" must be a string, got array"},
      {"{\"source\": \"a\", \"target\": \"b\", \"options\": \"b\"}",
       "\"options\" must be a non-empty array of strings"},
      {"{\"source\": \"a\", \"target\": \"b\", \"options\": []}",
       "\"options\" must be a non-empty array of strings"},
      {"{\"source\": \"a\", \"target\": \"b\", \"options\": [\"b\", 3]}",
       "\"options\" must hold strings, got number"},
      {"{\"source\": \"a\", \"target\": \"b\", \"options\": [\"c\"]}",
       "\"target\" is not one of \"options\""},
      {"{\"source\": \"a\", \"target\": \"b\", \"split\": \"dev\"}",
       "\"split\" is \"dev\"; expected \"train\", \"validation\" or \"test\""},
      {"{\"source\": \"a\", \"target\": \"b\", \"split\": 1}", "\"split\" must be a string"},
  };
  for (const Case& c : cases) {
    // Two good lines and a blank one first: the bad line is line 4.
    const std::string path = WriteTemp("bad.jsonl", good + "\n" + good + c.bad_line + "\n" + good);
    int before = -1;
    const std::string error = FirstError(path, &before);
    EXPECT_NE(error.find(path + ":4: " + c.message), std::string::npos)
        << "line: " << c.bad_line << "\nerror: " << error;
    EXPECT_EQ(before, 2);
  }
}

TEST(FlanJsonlReaderTest, MultipleChoiceOptions) {
  const std::string path = WriteTemp(
      "mc.jsonl",
      "{\"source\": \"2+2?\", \"target\": \"4\", \"split\": \"test\", \"options\": "
      "[\"3\", \"4\", \"5\"]}\n");
  auto examples = ReadFlanJsonl(path);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 1u);
  EXPECT_EQ((*examples)[0].options, (std::vector<std::string>{"3", "4", "5"}));
}

TEST(FlanJsonlReaderTest, BadJsonMessageSaysWhere) {
  const std::string path = WriteTemp("syntax.jsonl", "{\"source\": \"a\" \"target\": \"b\"}\n");
  const std::string error = FirstError(path);
  EXPECT_NE(error.find(":1: bad JSON: parse error at line 1, column"), std::string::npos) << error;
}

TEST(FlanJsonlReaderTest, RequiredTaskName) {
  const std::string path = WriteTemp("noname.jsonl", "{\"source\": \"a\", \"target\": \"b\"}\n");
  FlanReadOptions options;
  options.require_task_name = true;
  auto examples = ReadFlanJsonl(path, options);
  ASSERT_FALSE(examples.ok());
  EXPECT_EQ(examples.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(examples.status().message().find(":1: missing \"task_name\""), std::string::npos);
}

TEST(FlanJsonlReaderTest, MissingFile) {
  auto reader = FlanJsonlReader::Open("/nonexistent/dir/data.jsonl");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(reader.status().message().find("/nonexistent/dir/data.jsonl"), std::string::npos);
}

TEST(FlanJsonlReaderTest, AbsentSplitIsDeterministicAndSeeded) {
  std::string contents;
  for (int i = 0; i < 400; ++i) {
    contents += "{\"source\": \"s" + std::to_string(i) + "\", \"target\": \"t\", \"task_name\": \"k\"}\n";
  }
  const std::string path = WriteTemp("nosplit.jsonl", contents);
  FlanReadOptions options;
  options.split.seed = 11;
  auto first = ReadFlanJsonl(path, options);
  auto second = ReadFlanJsonl(path, options);
  ASSERT_TRUE(first.ok() && second.ok());
  int test = 0, validation = 0;
  for (size_t i = 0; i < first->size(); ++i) {
    EXPECT_EQ((*first)[i].split, (*second)[i].split);
    EXPECT_EQ((*first)[i].split, AssignSplit((*first)[i], options.split));
    test += (*first)[i].split == "test";
    validation += (*first)[i].split == "validation";
  }
  EXPECT_GT(test, 15);  // 10% of 400 = 40 expected
  EXPECT_GT(validation, 15);
  // A line's split does not depend on the other lines: reading a file with
  // just line 7 gives the same split.
  const std::string single = WriteTemp(
      "single.jsonl", "{\"source\": \"s7\", \"target\": \"t\", \"task_name\": \"k\"}\n");
  auto alone = ReadFlanJsonl(single, options);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ((*alone)[0].split, (*first)[7].split);
}

}  // namespace
}  // namespace libra::data
