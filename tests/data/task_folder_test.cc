#include "src/data/task_folder.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Line(const std::string& task, const std::string& source, const std::string& split) {
  std::string line = "{\"source\": \"" + source + "\", \"target\": \"t\"";
  if (!task.empty()) line += ", \"task_name\": \"" + task + "\"";
  if (!split.empty()) line += ", \"split\": \"" + split + "\"";
  return line + "}\n";
}

class TaskFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/sub");
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }
  std::vector<std::string> Names(const std::vector<FolderTask>& tasks) {
    std::vector<std::string> names;
    for (const FolderTask& t : tasks) names.push_back(t.name);
    return names;
  }
  std::string dir_;
};

TEST_F(TaskFolderTest, WithoutManifestGroupsEveryFileByTaskNameInNameOrder) {
  // Tasks spread over files and a subfolder, interleaved.
  Write("a.jsonl", Line("zeta", "z1", "train") + Line("alpha", "a1", "test") +
                       Line("zeta", "z2", "test"));
  Write("sub/b.jsonl", Line("alpha", "a2", "train") + Line("alpha", "a3", "validation"));
  Write("notes.txt", "not data");
  auto tasks = ReadTaskFolder(dir_, {});
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  EXPECT_THAT(Names(*tasks), ElementsAre("alpha", "zeta"));
  const FolderTask& alpha = (*tasks)[0];
  EXPECT_FALSE(alpha.held_out);
  EXPECT_EQ(alpha.family, "");
  ASSERT_EQ(alpha.train.size(), 1u);
  EXPECT_EQ(alpha.train[0].source, "a2");
  ASSERT_EQ(alpha.validation.size(), 1u);
  EXPECT_EQ(alpha.validation[0].source, "a3");
  ASSERT_EQ(alpha.test.size(), 1u);
  EXPECT_EQ(alpha.test[0].source, "a1");
  EXPECT_EQ((*tasks)[1].train.size(), 1u);
  EXPECT_EQ((*tasks)[1].test.size(), 1u);
}

TEST_F(TaskFolderTest, ManifestHeldOutListMarksDiscoveredTasks) {
  Write("d.jsonl", Line("a", "1", "test") + Line("b", "2", "test") + Line("c", "3", "test"));
  Write("suite.json", R"({"held_out": ["b"]})");
  auto tasks = ReadTaskFolder(dir_, {});
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_THAT(Names(*tasks), ElementsAre("a", "b", "c"));
  EXPECT_FALSE((*tasks)[0].held_out);
  EXPECT_TRUE((*tasks)[1].held_out);
  EXPECT_FALSE((*tasks)[2].held_out);
}

TEST_F(TaskFolderTest, ManifestTaskListKeepsItsOrderFieldsAndFiles) {
  // "b" reads its own file, where task_name may be left out and lines of
  // other tasks are skipped; "a" reads every file.
  Write("own.jsonl", Line("", "b1", "test") + Line("a", "a-in-own", "test") + Line("b", "b2", "train"));
  Write("mixed.jsonl", Line("a", "a1", "test") + Line("b", "b-elsewhere", "test"));
  Write("suite.json", R"({"tasks": [
      {"name": "b", "file": "own.jsonl", "family": "f2", "held_out": true, "related": ["a"]},
      {"name": "a", "family": "f1"}]})");
  auto tasks = ReadTaskFolder(dir_, {});
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_THAT(Names(*tasks), ElementsAre("b", "a"));
  const FolderTask& b = (*tasks)[0];
  EXPECT_EQ(b.family, "f2");
  EXPECT_TRUE(b.held_out);
  EXPECT_THAT(b.related, ElementsAre("a"));
  ASSERT_EQ(b.test.size(), 1u);
  EXPECT_EQ(b.test[0].source, "b1");
  ASSERT_EQ(b.train.size(), 1u);
  const FolderTask& a = (*tasks)[1];
  std::vector<std::string> a_sources;
  for (const FlanExample& e : a.test) a_sources.push_back(e.source);
  // Files are read in path order: mixed.jsonl before own.jsonl.
  EXPECT_THAT(a_sources, ElementsAre("a1", "a-in-own"));
}

TEST_F(TaskFolderTest, FamilyFilterAndPerSplitCaps) {
  std::string lines;
  for (int i = 0; i < 5; ++i) lines += Line("x", "x" + std::to_string(i), i < 3 ? "train" : "test");
  lines += Line("y", "y0", "test");
  Write("d.jsonl", lines);
  Write("suite.json", R"({"tasks": [{"name": "x", "family": "keep"}, {"name": "y", "family": "drop"}]})");
  TaskFolderOptions options;
  options.families = {"keep"};
  options.max_train = 2;
  options.max_test = 1;
  auto tasks = ReadTaskFolder(dir_, options);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_THAT(Names(*tasks), ElementsAre("x"));
  ASSERT_EQ((*tasks)[0].train.size(), 2u);
  EXPECT_EQ((*tasks)[0].train[1].source, "x1");  // the first ones, in file order
  ASSERT_EQ((*tasks)[0].test.size(), 1u);
  EXPECT_EQ((*tasks)[0].test[0].source, "x3");

  options.families = {"none"};
  auto none = ReadTaskFolder(dir_, options);
  EXPECT_THAT(none.status().message(), HasSubstr("no task of families [none]"));
}

TEST_F(TaskFolderTest, LinesWithoutSplitAreAssignedDeterministically) {
  std::string lines;
  for (int i = 0; i < 200; ++i) lines += Line("t", "s" + std::to_string(i), "");
  Write("d.jsonl", lines);
  TaskFolderOptions options;
  options.split.seed = 3;
  auto first = ReadTaskFolder(dir_, options);
  auto second = ReadTaskFolder(dir_, options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok());
  const FolderTask& t = (*first)[0];
  EXPECT_EQ(t.train.size() + t.validation.size() + t.test.size(), 200u);
  EXPECT_GT(t.train.size(), 120u);  // 80% expected
  EXPECT_GT(t.test.size(), 5u);
  for (const FlanExample& e : t.test) {
    EXPECT_EQ(AssignSplit(e, options.split), kTestSplit) << e.source;
  }
  ASSERT_EQ((*second)[0].test.size(), t.test.size());
  for (size_t i = 0; i < t.test.size(); ++i) EXPECT_EQ((*second)[0].test[i].source, t.test[i].source);
}

TEST_F(TaskFolderTest, ErrorsNameTheFileAndTheProblem) {
  auto empty = ReadTaskFolder(dir_, {});
  EXPECT_THAT(empty.status().message(), HasSubstr("no .jsonl files"));

  Write("d.jsonl", Line("a", "1", "test") + Line("", "2", "test"));
  auto unnamed = ReadTaskFolder(dir_, {});
  EXPECT_THAT(unnamed.status().message(), HasSubstr("d.jsonl:2"));

  Write("d.jsonl", Line("a", "1", "test") + "{\"source\": 1}\n");
  Write("suite.json", R"({"tasks": [{"name": "a"}]})");
  auto bad_line = ReadTaskFolder(dir_, {});
  EXPECT_THAT(bad_line.status().message(), HasSubstr("d.jsonl:2"));

  Write("d.jsonl", Line("a", "1", "test") + Line("b", "2", "train"));
  const std::vector<std::pair<std::string, std::string>> manifests = {
      {"{not json", "suite.json: not a JSON object"},
      {R"({"tasks": {"name": "a"}})", "tasks: expected a list"},
      {R"({"tasks": [{"name": "a"}, {"name": "a"}]})", "task \"a\" is listed twice"},
      {R"({"tasks": [{"family": "f"}]})", "tasks[0]: a task needs a non-empty \"name\""},
      {R"({"tasks": [{"name": "a", "held_out": "yes"}]})", "tasks[0].held_out: expected true or false"},
      {R"({"held_out": ["c"]})", "held_out names \"c\", which is not a task of"},
      {R"({"tasks": [{"name": "a", "related": ["zz"]}]})", "related names \"zz\""},
      {R"({"tasks": [{"name": "b"}]})", "task \"b\" has no test examples"},
  };
  for (const auto& [manifest, message] : manifests) {
    Write("suite.json", manifest);
    auto tasks = ReadTaskFolder(dir_, {});
    EXPECT_FALSE(tasks.ok()) << manifest;
    EXPECT_THAT(tasks.status().message(), HasSubstr(message)) << manifest;
    EXPECT_THAT(tasks.status().message(), HasSubstr(dir_)) << manifest;
  }
}

}  // namespace
}  // namespace libra::data
