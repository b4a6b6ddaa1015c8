// `libra train --nproc 2` (two ranks, Gloo on 127.0.0.1) against one process
// on the same global batch: the same expert to 1e-5, and one writer.
//
// Every example has the same number of target tokens, so the mean of the
// two ranks' per-token mean losses is the one-process per-token mean.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "tests/cli/run_command.h"
#include "src/core/io/safetensors.h"

namespace libra {
namespace {

CommandResult Libra(const std::string& args) {
  return RunCommand("src/cli/libra " + args + " --threads=1 2>&1");
}

int CountLines(const std::string& path) {
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

class TrainDistributedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/train_ddp";
    std::filesystem::create_directories(dir_);
    ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir_ +
                           "/base llama 1 --vocab 260 > /dev/null").c_str()),
              0);
    std::ofstream data(dir_ + "/train.jsonl");
    const char* words[] = {"abc", "cab", "bca", "aab", "bbc", "cca", "acb", "bac"};
    for (const char* w : words) {
      const std::string word = w;
      data << "{\"source\": \"R " << word << "\", \"target\": \""
           << std::string(word.rbegin(), word.rend())
           << "\", \"task_name\": \"rev\", \"split\": \"train\"}\n";
    }
  }
  static std::string dir_;
};
std::string TrainDistributedTest::dir_;

TEST_F(TrainDistributedTest, TwoRanksEqualOneRankOnTheSameGlobalBatch) {
  const std::string common = "train --base " + dir_ + "/base --data " + dir_ +
                             "/train.jsonl --task rev --type lora --rank 4 --steps 4 --lr 0.01 "
                             "--seed 5 --log_every 1 --name rev";
  // One process: all 8 examples per step. Two: 4 each (--batch_size is per rank).
  const CommandResult one = Libra(common + " --batch_size 8 --out " + dir_ + "/one.safetensors");
  ASSERT_EQ(one.code, 0) << one.output;
  const CommandResult two =
      Libra(common + " --batch_size 4 --nproc 2 --out " + dir_ + "/two.safetensors");
  ASSERT_EQ(two.code, 0) << two.output;

  // Rank 0 alone wrote the expert, the checkpoint and one metrics line per step.
  EXPECT_EQ(CountLines(dir_ + "/two.metrics.jsonl"), 4);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/two.ckpt.safetensors"));
  int trained_lines = 0;
  for (size_t at = two.output.find("trained 4 steps"); at != std::string::npos;
       at = two.output.find("trained 4 steps", at + 1)) {
    ++trained_lines;
  }
  EXPECT_EQ(trained_lines, 1) << two.output;

  auto a = SafetensorsFile::Open(dir_ + "/one.safetensors");
  auto b = SafetensorsFile::Open(dir_ + "/two.safetensors");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  ASSERT_FALSE(a->tensors().empty());
  double moved = 0.0;
  for (const TensorInfo& info : a->tensors()) {
    auto x = a->ReadFloat(info.name);
    auto y = b->ReadFloat(info.name);
    ASSERT_TRUE(x.ok()) << x.status();
    ASSERT_TRUE(y.ok()) << info.name << ": " << y.status();
    ASSERT_EQ(x->size(), y->size()) << info.name;
    for (int64_t i = 0; i < x->size(); ++i) {
      ASSERT_NEAR(x->data()[i], y->data()[i], 1e-5) << info.name << "[" << i << "]";
      if (absl::StrContains(info.name, "lora_B")) moved = std::max<double>(moved, std::fabs(x->data()[i]));
    }
  }
  EXPECT_GT(moved, 1e-4) << "lora_B starts at zero: training must have moved it";
}

TEST_F(TrainDistributedTest, AFailingRankFailsTheCommand) {
  const CommandResult bad = Libra("train --base " + dir_ + "/base --data " + dir_ +
                           "/missing.jsonl --nproc 2 --out " + dir_ + "/bad.safetensors");
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "missing.jsonl")) << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "libra: error: launcher: rank ")) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/bad.safetensors"));

  const CommandResult usage = Libra("train --base " + dir_ + "/base --data " + dir_ +
                             "/train.jsonl --nproc 0 --out " + dir_ + "/bad.safetensors");
  EXPECT_EQ(usage.code, 2) << usage.output;
  EXPECT_TRUE(absl::StrContains(usage.output, "--nproc must be at least 1, got 0")) << usage.output;
}

}  // namespace
}  // namespace libra
