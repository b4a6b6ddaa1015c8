#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/model.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "src/nn/checkpoint.h"
#include "src/nn/config.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

using testing::ReadFloats;
using testing::ReadText;
using testing::RunPython;
using testing::TempDir;

torch::Tensor InputIds(const std::string& dir) {
  auto ids = nlohmann::json::parse(ReadText(dir + "/input_ids.json"));
  std::vector<int64_t> flat;
  for (const auto& row : ids) for (const auto& v : row) flat.push_back(v.get<int64_t>());
  return torch::tensor(flat, torch::kInt64).view({static_cast<int64_t>(ids.size()), -1});
}

struct Case {
  const char* family;
  const char* flags;
};

class ReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceTest, LogitsMatchPythonForward) {
  const Case c = GetParam();
  const std::string dir = TempDir(std::string("ref_") + c.family + (*c.flags ? "_x" : ""));
  ASSERT_EQ(RunPython("reference_forward.py", dir + " " + c.family + " 7 " + c.flags), 0);
  auto model = LoadCheckpoint(dir, torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = InputIds(dir);
  torch::Tensor logits = (*model)->forward(ids);
  torch::Tensor expected = ReadFloats(dir + "/logits.bin", logits.sizes().vec());
  EXPECT_LT((logits - expected).abs().max().item<float>(), 1e-4);

  // Incremental decoding with the KV cache gives the same logits.
  KvCache cache;
  torch::Tensor first = (*model)->forward(ids.narrow(1, 0, 5), &cache);
  std::vector<torch::Tensor> steps = {first};
  for (int64_t t = 5; t < ids.size(1); ++t) {
    steps.push_back((*model)->forward(ids.narrow(1, t, 1), &cache));
  }
  EXPECT_LT((torch::cat(steps, 1) - expected).abs().max().item<float>(), 1e-4);

  // Save and reload: same logits (F32), close in BF16.
  const std::string saved = dir + "/saved";
  ASSERT_TRUE(SaveCheckpoint(**model, saved).ok());
  auto reloaded = LoadCheckpoint(saved, torch::kCPU);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(torch::equal((*reloaded)->forward(ids), logits));
  ASSERT_TRUE(SaveCheckpoint(**model, saved + "_bf16", DType::kBF16).ok());
  auto bf16 = LoadCheckpoint(saved + "_bf16", torch::kCPU);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_LT(((*bf16)->forward(ids) - expected).abs().max().item<float>(), 0.5);
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceTest,
                         ::testing::Values(Case{"llama", ""}, Case{"llama", "--tied --shards 3"},
                                           Case{"qwen2", ""}, Case{"mistral", "--shards 2"},
                                           Case{"phi", ""}));

TEST(ModelTest, ResizeVocabKeepsOldLogitsAndAddsRows) {
  const std::string dir = TempDir("resize");
  ASSERT_EQ(RunPython("reference_forward.py", dir + " phi 3"), 0);
  auto model = LoadCheckpoint(dir, torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = InputIds(dir);
  torch::Tensor before = (*model)->forward(ids);
  (*model)->ResizeVocab(70);
  EXPECT_EQ((*model)->config().vocab_size, 70);
  torch::Tensor after = (*model)->forward(torch::cat({ids, torch::full({2, 1}, 69, torch::kInt64)}, 1));
  EXPECT_EQ(after.size(2), 70);
  EXPECT_LT((after.narrow(1, 0, ids.size(1)).narrow(2, 0, 67) - before).abs().max().item<float>(),
            1e-5);
  torch::Tensor embed = (*model)->model->embed_tokens->weight;
  EXPECT_TRUE(torch::allclose(embed[69], embed.narrow(0, 0, 67).mean(0)));
  // The grown model saves and reloads with its new vocabulary.
  ASSERT_TRUE(SaveCheckpoint(**model, dir + "/grown").ok());
  auto grown = LoadCheckpoint(dir + "/grown", torch::kCPU);
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_EQ((*grown)->config().vocab_size, 70);
}

// A config built in code may leave the KV head count unset; it then means
// plain multi-head attention, exactly as if it were set to the head count.
TEST(ModelTest, UnsetKvHeadsMeanMultiHeadAttention) {
  ModelConfig unset;
  unset.vocab_size = 11;
  unset.hidden_size = 16;
  unset.intermediate_size = 24;
  unset.num_hidden_layers = 1;
  unset.num_attention_heads = 4;
  ModelConfig explicit_heads = unset;
  explicit_heads.num_key_value_heads = 4;
  torch::manual_seed(5);
  CausalLM a(unset);
  torch::manual_seed(5);
  CausalLM b(explicit_heads);
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = torch::tensor({{1, 2, 3, 4}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(a->forward(ids), b->forward(ids)));
}

TEST(ModelTest, ErrorsNameTheProblem) {
  const std::string dir = TempDir("errors");
  auto missing = LoadCheckpoint(dir, torch::kCPU);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("config.json"), std::string::npos);

  auto unknown = ParseModelConfig(R"({"model_type": "gpt2", "vocab_size": 5})", "c.json");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(unknown.status().message()).find("unknown architecture model_type \"gpt2\""),
            std::string::npos);

  ASSERT_EQ(RunPython("reference_forward.py", dir + " llama 1"), 0);
  std::string config = ReadText(dir + "/config.json");
  config.replace(config.find("\"vocab_size\": 67"), 16, "\"vocab_size\": 99");
  std::ofstream(dir + "/config.json") << config;
  auto mismatch = LoadCheckpoint(dir, torch::kCPU);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(mismatch.status().message()).find("vocab_size"), std::string::npos)
      << mismatch.status();
}

}  // namespace
}  // namespace libra::nn
