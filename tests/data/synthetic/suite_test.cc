#include "src/data/synthetic/suite.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/data/flan_jsonl_reader.h"

namespace libra::data::synthetic {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

SuiteOptions SmallOptions(uint64_t seed) {
  SuiteOptions options;
  options.seed = seed;
  options.train_per_task = 50;
  options.validation_per_task = 8;
  options.test_per_task = 16;
  options.pretrain.examples = 400;
  return options;
}

TEST(SuiteTest, WritesTasksPretrainAndManifest) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/suite_a";
  ASSERT_TRUE(WriteSuite(dir, SmallOptions(1)).ok());

  const nlohmann::json manifest = nlohmann::json::parse(Slurp(dir + "/suite.json"));
  EXPECT_EQ(manifest["format"], "libra-synthetic-suite");
  EXPECT_EQ(manifest["seed"], 1);
  ASSERT_EQ(manifest["tasks"].size(), AllTasks().size());
  ASSERT_EQ(manifest["families"].size(), 4u);
  std::set<std::string> held_in;
  for (const auto& family : manifest["families"]) {
    for (const auto& name : family["held_in"]) held_in.insert(name.get<std::string>());
  }
  int held_out = 0;
  for (const auto& task : manifest["tasks"]) {
    const std::string name = task["name"];
    if (task["held_out"].get<bool>()) {
      ++held_out;
      EXPECT_FALSE(task["related"].empty()) << name;
      for (const auto& related : task["related"]) EXPECT_TRUE(held_in.count(related)) << name;
    } else {
      EXPECT_TRUE(held_in.count(name));
    }
    auto examples = ReadFlanJsonl(dir + "/" + task["file"].get<std::string>());
    ASSERT_TRUE(examples.ok()) << examples.status();
    EXPECT_EQ(examples->size(), 74u) << name;
    for (const FlanExample& example : *examples) EXPECT_EQ(example.task_name, name);
  }
  EXPECT_GE(held_in.size(), 20u);
  EXPECT_GE(held_out, 10);
  auto pretrain = ReadFlanJsonl(dir + "/pretrain.jsonl");
  ASSERT_TRUE(pretrain.ok()) << pretrain.status();
  EXPECT_EQ(pretrain->size(), 400u);
}

TEST(SuiteTest, SameSeedSameBytesOtherSeedOtherData) {
  const std::string tmp = getenv("TEST_TMPDIR");
  ASSERT_TRUE(WriteSuite(tmp + "/suite_b", SmallOptions(2)).ok());
  ASSERT_TRUE(WriteSuite(tmp + "/suite_c", SmallOptions(2)).ok());
  ASSERT_TRUE(WriteSuite(tmp + "/suite_d", SmallOptions(3)).ok());
  for (const char* file : {"/tasks/letters_sort.jsonl", "/pretrain.jsonl", "/suite.json"}) {
    EXPECT_EQ(Slurp(tmp + "/suite_b" + file), Slurp(tmp + "/suite_c" + file)) << file;
    EXPECT_NE(Slurp(tmp + "/suite_b" + file), Slurp(tmp + "/suite_d" + file)) << file;
  }
}

TEST(SuiteTest, ImpossibleCountsWriteNothing) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/suite_e";
  SuiteOptions options = SmallOptions(1);
  options.train_per_task = 6000;  // more than brackets_close's 5456 distinct inputs
  absl::Status status = WriteSuite(dir, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(std::ifstream(dir + "/suite.json").good());
  EXPECT_FALSE(std::ifstream(dir + "/tasks/letters_reverse.jsonl").good());
}

}  // namespace
}  // namespace libra::data::synthetic
