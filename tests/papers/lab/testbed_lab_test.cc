#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/lab/testbed_lab.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/config.h"
#include "src/nn/eval.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"
#include "tests/nn/test_util.h"

namespace libra::papers {
namespace {

nn::CausalLM TinyModel() {
  nn::ModelConfig c = nn::testing::TinyLlama();
  c.vocab_size = 260;  // byte tokenizer
  c.num_attention_heads = 2;
  torch::manual_seed(7);
  nn::CausalLM model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.mul_(3.0);  // peaky logits, varied argmax
  return model;
}

// The accuracy itself is tested in tests/nn/eval_test; the lab adds the
// mode it scores in and the one it leaves the model in.
TEST(TokenAccuracyTest, ScoresInEvaluationModeAndLeavesTrainingMode) {
  nn::CausalLM model = TinyModel();
  nn::TokenizedExample ex;
  ex.ids = {257, 'a', 'b', 259, 'c', 258};
  ex.target_start = 4;
  model->eval();
  const nn::TargetAccuracy expected = nn::TargetTokenAccuracy(*model, {ex}, 1);
  model->train();
  const TargetAccuracy accuracy = LabTargetAccuracy(*model, {ex}, 1);
  EXPECT_EQ(accuracy.correct, expected.correct);
  EXPECT_EQ(accuracy.tokens, expected.tokens);
  EXPECT_TRUE(model->is_training());
  EXPECT_EQ(TokenAccuracy(*model, {ex}, 1), expected.all);
  EXPECT_TRUE(model->is_training());
}

TEST(LabConfigTest, OverrideChangesNamedFieldsAndRejectsUnknownOrMistyped) {
  LabConfig config;
  ASSERT_TRUE(config.Override({{"pretrain_steps", 7}, {"targets", {"o_proj"}}}).ok());
  EXPECT_EQ(config.pretrain_steps, 7);
  EXPECT_EQ(config.targets, std::vector<std::string>{"o_proj"});
  EXPECT_EQ(config.hidden, LabConfig().hidden);
  absl::Status unknown = config.Override({{"hiden", 64}});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("hiden"), std::string::npos);
  EXPECT_FALSE(config.Override({{"targets", "q_proj"}}).ok());
  EXPECT_FALSE(config.Override(nlohmann::json::array()).ok());
  // The base key does not move with expert fields, so experts never retrain a base.
  LabConfig other = config;
  other.expert_steps += 1;
  EXPECT_EQ(other.BaseKey(), config.BaseKey());
  EXPECT_NE(other.ExpertKey(), config.ExpertKey());
}

TEST(LabConfigTest, AWronglyTypedFieldIsAnErrorNamingItNeverAConversion) {
  LabConfig config;
  for (const nlohmann::json& bad :
       {nlohmann::json{{"expert_steps", 3.5}}, nlohmann::json{{"expert_steps", 3.0}},
        nlohmann::json{{"expert_steps", "3"}}, nlohmann::json{{"expert_steps", true}},
        nlohmann::json{{"families", {"letters", 2}}}, nlohmann::json{{"expert_lr", "0.1"}},
        nlohmann::json{{"test_per_task", 1e30}}}) {
    const std::string field = bad.begin().key();
    absl::Status s = config.Override(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad.dump();
    EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
  }
  // Nothing was applied by a rejected override.
  EXPECT_EQ(config.ToJson(), LabConfig().ToJson());
  // A real field takes an integer; an integer too large for its field is an
  // error, not a wrap-around.
  ASSERT_TRUE(config.Override({{"expert_lr", 1}}).ok());
  EXPECT_EQ(config.expert_lr, 1.0);
  EXPECT_FALSE(config.Override({{"test_per_task", int64_t{1} << 40}}).ok());
}

TEST(LabConfigTest, JsonRoundTripKeepsEveryField) {
  LabConfig config;
  config.hidden = 64;
  config.expert_lr = 0.027;
  config.families = {"digits"};
  config.targets = {"q_proj", "v_proj"};
  const nlohmann::json j = config.ToJson();
  EXPECT_EQ(j.size(), 22u);  // every field, by its name
  EXPECT_EQ(j.at("families"), nlohmann::json({"digits"}));
  LabConfig back;
  ASSERT_TRUE(back.Override(j).ok());
  EXPECT_EQ(back.ToJson(), j);
}

TEST(ExpertSeedTest, RolesOwnDisjointStridesAndRefuseIndicesOutsideThem) {
  std::set<uint64_t> seen;
  for (int seed = 0; seed <= 3; ++seed) {
    for (auto [role, n] : {std::pair{ExpertRole::kTask, 500}, std::pair{ExpertRole::kCluster, 400},
                           std::pair{ExpertRole::kShared, 100}}) {
      for (int i = 0; i < n; ++i) {
        absl::StatusOr<uint64_t> s = ExpertSeed(role, seed, i);
        ASSERT_TRUE(s.ok()) << s.status();
        EXPECT_TRUE(seen.insert(*s).second) << "seed " << *s << " given twice";
      }
    }
  }
  // The values every paper used before this function existed.
  EXPECT_EQ(*ExpertSeed(ExpertRole::kTask, 2, 7), 2007u);
  EXPECT_EQ(*ExpertSeed(ExpertRole::kCluster, 3, 1), 3501u);
  EXPECT_EQ(*ExpertSeed(ExpertRole::kShared, 1, 0), 1900u);
  EXPECT_EQ(ExpertSeed(ExpertRole::kTask, 1, 500).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(ExpertSeed(ExpertRole::kCluster, 1, 400).ok());
  EXPECT_FALSE(ExpertSeed(ExpertRole::kShared, 1, -1).ok());
  EXPECT_FALSE(ExpertSeed(ExpertRole::kTask, -1, 0).ok());
}

TEST(BaseDefinitionTest, PapersThatAgreeOnTheBaseShareOneKeyAndAChangedFieldMovesIt) {
  // Two papers: the defaults, and a quick scale that changes experts,
  // evaluation and families (as sparse_adapters does).
  LabConfig a;
  a.families = {"letters", "digits"};
  LabConfig b = a;
  b.families.clear();
  b.expert_steps = 100;
  b.test_per_task = 32;
  b.train_per_task = 128;
  const nlohmann::json da = BaseDefinition(a, SyntheticCorpusDefinition(a));
  const nlohmann::json db = BaseDefinition(b, SyntheticCorpusDefinition(b));
  EXPECT_EQ(da, db);
  EXPECT_EQ(BaseArtifactKey(da).Hash(), BaseArtifactKey(db).Hash());
  // base_key.json shows all of it.
  for (const char* part : {"config", "corpus", "threads", "producer"}) {
    EXPECT_TRUE(da.contains(part)) << part;
  }
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"pretrain_steps", 11},
                                                           {"hidden", 64},
                                                           {"pretrain_examples", 1000},
                                                           {"pretrain_lr", 0.1}}) {
    LabConfig c = a;
    ASSERT_TRUE(c.Override({{field, value}}).ok());
    EXPECT_NE(BaseArtifactKey(BaseDefinition(c, SyntheticCorpusDefinition(c))).Hash(),
              BaseArtifactKey(da).Hash())
        << field;
  }
}

// The embedding's standard deviation after PretrainBase with a learning
// rate too small to move it: what the initialisation left.
double PretrainedEmbeddingStd(double embedding_std, const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::create_directories(dir);
  const std::string corpus = dir + "/corpus.jsonl";
  {
    std::ofstream out(corpus);
    for (int i = 0; i < 12; ++i) {
      out << R"({"source": "ab|)" << char('A' + i) << "B=\", \"target\": \"B" << char('A' + i)
          << R"(", "task_name": "pretrain/letters/ab", "split": "train"})" << "\n";
    }
  }
  LabConfig config;
  config.hidden = 32;
  config.layers = 1;
  config.heads = 2;
  config.intermediate = 48;
  config.max_length = 16;
  config.pretrain_examples = 8;
  config.pretrain_steps = 1;
  config.pretrain_batch = 4;
  config.pretrain_lr = 1e-9;
  config.pretrain_embedding_std = embedding_std;
  EXPECT_TRUE(PretrainBase(config, corpus, BaseDefinition(config, {{"file", corpus}}), dir + "/base").ok());
  absl::StatusOr<nn::CausalLM> base = nn::LoadCheckpoint(dir + "/base", torch::kCPU);
  EXPECT_TRUE(base.ok()) << base.status();
  if (!base.ok()) return -1;
  return (*base)->model->embed_tokens->weight.std().item<double>();
}

TEST(PretrainBaseTest, EmbeddingStartsWithTheConfiguredSpread) {
  // 260 x 32 draws: the sample spread is within a few percent of the true one.
  EXPECT_NEAR(PretrainedEmbeddingStd(0.1, "embedding_0.1"), 0.1, 0.01);
  EXPECT_NEAR(PretrainedEmbeddingStd(0.0, "embedding_default"), 1.0, 0.1);  // LibTorch's N(0, 1)
}

}  // namespace
}  // namespace libra::papers
