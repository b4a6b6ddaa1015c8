// End to end: `libra eval` and `libra generate` with a library's experts and
// Arrow routing, against the in-process Arrow condition the papers use
// (nn::AttachArrow on the same model and expert files, prototypes computed
// there), and --show_routing against that condition's routing recorder.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "src/core/text/model_tokenizer.h"
#include "src/nn/arrow_router.h"
#include "src/nn/checkpoint.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "tests/cli/run_command.h"

namespace libra {
namespace {

CommandResult Libra(const std::string& args) {
  return RunCommand("src/cli/libra " + args + " --threads=1 2>&1");
}

// Two tasks the experts specialise in: reversing and doubling letters.
void WriteData(const std::string& path) {
  std::ofstream data(path);
  const char* words[] = {"ab", "ba", "abc", "cab", "bca", "aab", "bb", "ca"};
  for (int i = 0; i < 32; ++i) {
    const std::string w = words[i % 8];
    const std::string split = i < 24 ? "train" : "test";
    data << "{\"source\": \"R " << w << "\", \"target\": \"" << std::string(w.rbegin(), w.rend())
         << "\", \"task_name\": \"rev\", \"split\": \"" << split << "\"}\n";
    data << "{\"source\": \"D " << w << "\", \"target\": \"" << w << w
         << "\", \"task_name\": \"dup\", \"split\": \"" << split << "\"}\n";
  }
}

class RoutingCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/routing";
    std::filesystem::create_directories(dir_);
    ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir_ +
                           "/base llama 2 --vocab 260 > /dev/null").c_str()), 0);
    WriteData(dir_ + "/data.jsonl");
    const std::string common = " --base " + dir_ + "/base --data " + dir_ + "/data.jsonl --split train "
                               "--rank 4 --steps 12 --batch_size 8 --lr 0.02 --seed 3";
    for (const char* task : {"rev", "dup"}) {
      CommandResult train = Libra(std::string("train") + common + " --task " + task + " --out " + dir_ +
                                  "/" + task + ".safetensors");
      ASSERT_EQ(train.code, 0) << train.output;
    }
    ASSERT_EQ(Libra("library create " + dir_ + "/lib --base tiny").code, 0);
    for (const char* task : {"rev", "dup"}) {
      CommandResult add = Libra(std::string("library add ") + dir_ + "/lib --name " + task + " --tensors " +
                                dir_ + "/" + task + ".safetensors");
      ASSERT_EQ(add.code, 0) << add.output;
    }
  }

  // The papers' Arrow condition, in this process.
  static nn::CausalLM ArrowModel(std::shared_ptr<nn::RoutingRecorder> recorder) {
    auto model = nn::LoadCheckpoint(dir_ + "/base", torch::kCPU);
    EXPECT_TRUE(model.ok()) << model.status();
    std::vector<std::vector<nn::ExpertModule>> experts;
    for (const char* task : {"rev", "dup"}) experts.push_back(*nn::LoadExpert(dir_ + "/" + task + ".safetensors"));
    nn::ArrowOptions options;
    options.top_k = 2;
    EXPECT_TRUE(nn::AttachArrow(**model, experts, options, nn::MixingMode::kOutput, recorder).ok());
    return *model;
  }

  static std::string dir_;
};
std::string RoutingCommandTest::dir_;

TEST_F(RoutingCommandTest, ArrowRoutedEvalEqualsThePapersArrowCondition) {
  torch::set_num_threads(1);
  nn::CausalLM model = ArrowModel(nullptr);
  auto tokenizer = text::LoadModelTokenizer(dir_ + "/base");
  ASSERT_TRUE(tokenizer.ok());
  std::vector<nn::EvalExample> examples;
  std::ifstream data(dir_ + "/data.jsonl");
  for (std::string line; std::getline(data, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["split"] == "test") examples.push_back({j["source"], j["target"], {}});
  }
  nn::GenerateOptions options;
  options.max_new_tokens = 8;
  auto want = nn::Evaluate(*model, **tokenizer, examples, options);
  ASSERT_TRUE(want.ok()) << want.status();

  const std::string eval = "eval --base " + dir_ + "/base --data " + dir_ + "/data.jsonl --split test "
                           "--max_new_tokens 8 --library " + dir_ + "/lib --all --router arrow --top_k 2 --json";
  // Prototypes not stored yet: computed in memory, and said so.
  CommandResult first = Libra(eval);
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_TRUE(absl::StrContains(first.output, "computing Arrow prototypes in memory")) << first.output;
  ASSERT_EQ(Libra("arrow " + dir_ + "/lib").code, 0);
  CommandResult stored = Libra(eval);
  ASSERT_EQ(stored.code, 0) << stored.output;
  EXPECT_FALSE(absl::StrContains(stored.output, "in memory")) << stored.output;
  for (const CommandResult* run : {&first, &stored}) {
    const nlohmann::json got = nlohmann::json::parse(run->output.substr(run->output.rfind('{')));
    EXPECT_EQ(got["count"], want->count);
    EXPECT_NEAR(got["exact_match"].get<double>(), want->exact_match, 1e-12);
    EXPECT_NEAR(got["rouge_l"].get<double>(), want->rouge_l, 1e-12);
    EXPECT_NEAR(got["token_accuracy"].get<double>(), want->token_accuracy, 1e-12);
  }
}

TEST_F(RoutingCommandTest, ShowRoutingAgreesWithTheRoutingRecorder) {
  torch::set_num_threads(1);
  auto recorder = std::make_shared<nn::RoutingRecorder>();
  nn::CausalLM model = ArrowModel(recorder);
  auto tokenizer = text::LoadModelTokenizer(dir_ + "/base");
  ASSERT_TRUE(tokenizer.ok());
  const std::vector<int64_t> prompt = *nn::EncodePrompt(**tokenizer, "R cab");
  nn::GenerateOptions options;
  options.max_new_tokens = 4;
  const std::vector<int64_t> ids =
      nn::GreedyGenerate(*model, prompt, (*tokenizer)->special_ids().eos.value_or(-1), options);
  ASSERT_FALSE(ids.empty());

  CommandResult run = Libra("generate --base " + dir_ + "/base --max_new_tokens 4 --library " + dir_ +
                            "/lib --experts rev,dup --router arrow --top_k 2 --show_routing --json 'R cab'");
  ASSERT_EQ(run.code, 0) << run.output;
  const nlohmann::json got = nlohmann::json::parse(run.output.substr(run.output.find('[')));
  const nlohmann::json& routing = got[0]["routing"];
  ASSERT_EQ(routing.size(), ids.size()) << run.output;
  for (size_t t = 0; t < ids.size(); ++t) {
    // The recorder's weights at the position that predicted token t, mean over modules.
    std::map<std::string, double> want;
    const int64_t row = static_cast<int64_t>(prompt.size()) - 1 + static_cast<int64_t>(t);
    const std::vector<std::string> modules = recorder->Modules();
    for (const std::string& module : modules) {
      torch::Tensor w = recorder->Weights(module)[row];
      want["rev"] += w[0].item<double>() / modules.size();
      want["dup"] += w[1].item<double>() / modules.size();
    }
    ASSERT_EQ(routing[t]["experts"].size(), 2u);
    for (const nlohmann::json& e : routing[t]["experts"]) {
      EXPECT_NEAR(e["weight"].get<double>(), want[e["expert"].get<std::string>()], 1e-5) << t;
    }
    EXPECT_GE(routing[t]["experts"][0]["weight"].get<double>(), routing[t]["experts"][1]["weight"].get<double>());
  }
}

TEST_F(RoutingCommandTest, BadSelectionsAreUsageErrorsOrNameTheExpert) {
  const std::string base = "eval --base " + dir_ + "/base --data " + dir_ + "/data.jsonl --limit 1 ";
  EXPECT_TRUE(absl::StrContains(Libra(base + "--library " + dir_ + "/lib").output, "exactly one of --experts"));
  EXPECT_TRUE(absl::StrContains(Libra(base + "--all").output, "choose experts of a --library"));
  EXPECT_TRUE(absl::StrContains(Libra(base + "--library " + dir_ + "/lib --all --router magic").output,
                                "unknown --router \"magic\""));
  EXPECT_TRUE(absl::StrContains(Libra(base + "--library " + dir_ + "/lib --experts rev,nope").output,
                                "no expert \"nope\""));
  CommandResult show = Libra("generate --base " + dir_ + "/base --expert_file " + dir_ +
                             "/rev.safetensors --show_routing x");
  EXPECT_EQ(show.code, 1);
  EXPECT_TRUE(absl::StrContains(show.output, "--show_routing needs a routed mixture")) << show.output;
}

}  // namespace
}  // namespace libra
