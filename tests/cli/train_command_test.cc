// End-to-end tests of `libra train`, `libra eval` and `libra generate`: the
// real binary on a tiny random Llama checkpoint (written by the independent
// Python reference) with the byte-level tokenizer.
#include <gtest/gtest.h>

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
  return RunCommand("src/cli/libra " + args + " --threads=2 2>&1");
}

class TrainCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/train_cli";
    std::filesystem::create_directories(dir_);
    ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir_ +
                           "/base llama 1 --vocab 260 > /dev/null").c_str()),
              0);
    std::ofstream data(dir_ + "/train.jsonl");
    const char* words[] = {"ab", "ba", "abc", "cab", "bca", "aab", "bb", "ca"};
    for (int i = 0; i < 32; ++i) {
      std::string w = words[i % 8];
      data << "{\"source\": \"R " << w << "\", \"target\": \"" << std::string(w.rbegin(), w.rend())
           << "\", \"task_name\": \"" << (i % 2 ? "rev" : "other") << "\", \"split\": \"train\"}\n";
    }
  }
  static std::string dir_;
};
std::string TrainCommandTest::dir_;

TEST_F(TrainCommandTest, TrainsAnExpertThenEvaluatesAndGenerates) {
  const std::string base = "--base " + dir_ + "/base --data " + dir_ + "/train.jsonl";
  CommandResult train = Libra("train " + base + " --task rev --type lora --rank 4 --steps 6 --batch_size 4 "
                       "--lr 0.01 --seed 3 --name rev --out " + dir_ + "/rev.safetensors");
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_TRUE(absl::StrContains(train.output, "trained 6 steps")) << train.output;
  auto file = SafetensorsFile::Open(dir_ + "/rev.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_NE(file->Find("model.layers.0.self_attn.q_proj.lora_A.weight"), nullptr);
  EXPECT_NE(file->Find("model.layers.1.self_attn.v_proj.lora_B.weight"), nullptr);
  EXPECT_EQ(file->metadata().at("tasks"), "rev");
  EXPECT_EQ(file->metadata().at("lora_scale"), "4");
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/rev.metrics.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/rev.ckpt.safetensors"));

  CommandResult eval = Libra("eval " + base + " --task rev --max_new_tokens 4 --json --expert_file " + dir_ +
                      "/rev.safetensors");
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_TRUE(absl::StrContains(eval.output, "\"count\":16")) << eval.output;
  EXPECT_TRUE(absl::StrContains(eval.output, "\"rouge_l\"")) << eval.output;

  // Multiple choice: options are scored by log-likelihood, never generated;
  // with a single option the answer is that option whatever the model.
  {
    std::ofstream mc(dir_ + "/mc.jsonl");
    mc << "{\"source\": \"R ab\", \"target\": \"zq\", \"options\": [\"zq\"]}\n"
       << "{\"source\": \"R ba\", \"target\": \"qqz\", \"options\": [\"qqz\"]}\n";
  }
  CommandResult mc = Libra("eval --base " + dir_ + "/base --data " + dir_ + "/mc.jsonl --json");
  ASSERT_EQ(mc.code, 0) << mc.output;
  EXPECT_TRUE(absl::StrContains(mc.output, "\"multiple_choice\":2")) << mc.output;
  EXPECT_TRUE(absl::StrContains(mc.output, "\"exact_match\":1.0")) << mc.output;

  CommandResult mix = Libra("eval " + base + " --task rev --limit 2 --max_new_tokens 2 --mixing parameter "
                     "--expert_file " + dir_ + "/rev.safetensors," + dir_ + "/rev.safetensors");
  ASSERT_EQ(mix.code, 0) << mix.output;

  CommandResult generate = Libra("generate --base " + dir_ + "/base --max_new_tokens 3 'R ab'");
  EXPECT_EQ(generate.code, 0) << generate.output;

  CommandResult full = Libra("train " + base + " --type full --target_modules down_proj --steps 2 "
                      "--full_checkpoint --out " + dir_ + "/full");
  ASSERT_EQ(full.code, 0) << full.output;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/full/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/full/config.json"));
}

// An expert trained on another base: a mixture of it with a fitting expert is
// refused naming the expert and tensor, never a LibTorch failure (exit 134).
TEST_F(TrainCommandTest, MixtureWithAForeignExpertIsAClearError) {
  const std::string base = "--base " + dir_ + "/base --data " + dir_ + "/train.jsonl";
  CommandResult train = Libra("train " + base + " --task rev --rank 2 --steps 1 --out " + dir_ +
                              "/fits.safetensors");
  ASSERT_EQ(train.code, 0) << train.output;
  // The same modules and rank, on a base 7 wide.
  auto fits = SafetensorsFile::Open(dir_ + "/fits.safetensors");
  ASSERT_TRUE(fits.ok()) << fits.status();
  SafetensorsWriter foreign;
  for (const TensorInfo& tensor : fits->tensors()) {
    const bool is_a = absl::StrContains(tensor.name, "lora_A");
    ASSERT_TRUE(foreign.Add(tensor.name, Tensor::Zeros(is_a ? Shape{2, 7} : Shape{7, 2})).ok());
  }
  foreign.SetMetadata("lora_scale", "1");
  foreign.SetMetadata("lora_rank", "2");
  ASSERT_TRUE(foreign.WriteAtomically(dir_ + "/foreign.safetensors").ok());
  for (const char* mixing : {"output", "parameter"}) {
    CommandResult eval = Libra("eval " + base + " --task rev --limit 1 --max_new_tokens 1 --mixing " +
                               mixing + " --expert_file " + dir_ + "/fits.safetensors," + dir_ +
                               "/foreign.safetensors");
    EXPECT_EQ(eval.code, 1) << eval.output;
    EXPECT_TRUE(absl::StrContains(eval.output, "libra: error:")) << eval.output;
    EXPECT_TRUE(absl::StrContains(eval.output, "foreign.safetensors\" does not fit the model")) << eval.output;
    EXPECT_FALSE(absl::StrContains(eval.output, "unexpected failure")) << eval.output;
  }
}

TEST_F(TrainCommandTest, BadInputsStopWithClearErrors) {
  const std::string base = "--base " + dir_ + "/base";
  CommandResult missing = Libra("train " + base + " --data " + dir_ + "/nope.jsonl --out " + dir_ + "/x.safetensors");
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(absl::StrContains(missing.output, "libra: error:")) << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "nope.jsonl")) << missing.output;

  std::ofstream(dir_ + "/bad.jsonl") << "{\"source\": \"a\"}\n";
  CommandResult no_target = Libra("train " + base + " --data " + dir_ + "/bad.jsonl --out " + dir_ + "/x.safetensors");
  EXPECT_EQ(no_target.code, 1);
  EXPECT_TRUE(absl::StrContains(no_target.output, "bad.jsonl:1")) << no_target.output;
  EXPECT_TRUE(absl::StrContains(no_target.output, "target")) << no_target.output;

  std::filesystem::create_directories(dir_ + "/gpt2");
  std::ofstream(dir_ + "/gpt2/config.json") << "{\"model_type\": \"gpt2\"}";
  CommandResult arch = Libra("train --base " + dir_ + "/gpt2 --data " + dir_ + "/train.jsonl --out " + dir_ + "/x.safetensors");
  EXPECT_EQ(arch.code, 1);
  EXPECT_TRUE(absl::StrContains(arch.output, "unknown architecture model_type \"gpt2\"")) << arch.output;

  ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir_ + "/small llama 1 > /dev/null").c_str()), 0);
  CommandResult vocab = Libra("train --base " + dir_ + "/small --data " + dir_ + "/train.jsonl --out " + dir_ + "/x.safetensors");
  EXPECT_EQ(vocab.code, 1);
  EXPECT_TRUE(absl::StrContains(vocab.output, "tokenizer has 260 tokens but the model's vocab_size is 67"))
      << vocab.output;

  ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir_ +
                         "/broken llama 1 --vocab 260 --nan > /dev/null").c_str()), 0);
  CommandResult nan = Libra("train --base " + dir_ + "/broken --data " + dir_ + "/train.jsonl --steps 3 "
                     "--out " + dir_ + "/nan.safetensors");
  EXPECT_EQ(nan.code, 1);
  EXPECT_TRUE(absl::StrContains(nan.output, "loss is NaN at step 1")) << nan.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/nan.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.safetensors"));

  CommandResult usage = Libra("train " + base + " --data " + dir_ + "/train.jsonl --type dora --out " + dir_ + "/x.safetensors");
  EXPECT_EQ(usage.code, 2) << usage.output;
}

}  // namespace
}  // namespace libra
