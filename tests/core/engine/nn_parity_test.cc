// The torch-free engine against the LibTorch model of src/nn on the same
// HF checkpoint: logits to 1e-4 (tied and untied embeddings, GQA).
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/engine/model.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/nn/checkpoint.h"

namespace libra::engine {
namespace {

Tensor Random(Shape shape, std::mt19937& rng, float stddev, float mean = 0) {
  std::normal_distribution<float> normal(mean, stddev);
  Tensor t = Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

void CheckParity(bool tied, const std::string& name) {
  LlamaConfig config;
  config.vocab_size = 260;
  config.hidden_size = 64;
  config.intermediate_size = 96;
  config.num_layers = 2;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.max_positions = 64;
  config.rms_norm_eps = 1e-5f;
  config.rope_theta = 1000.0f;
  config.tie_word_embeddings = tied;
  std::mt19937 rng(21);
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("model.embed_tokens.weight", Random({260, 64}, rng, 1.0f)).ok());
  ASSERT_TRUE(writer.Add("model.norm.weight", Random({64}, rng, 0.1f, 1.0f)).ok());
  if (!tied) {
    ASSERT_TRUE(writer.Add("lm_head.weight", Random({260, 64}, rng, 0.2f)).ok());
  }
  for (int l = 0; l < 2; ++l) {
    const std::string prefix = absl::StrCat("model.layers.", l, ".");
    ASSERT_TRUE(writer.Add(prefix + "input_layernorm.weight", Random({64}, rng, 0.1f, 1.0f)).ok());
    ASSERT_TRUE(writer.Add(prefix + "post_attention_layernorm.weight", Random({64}, rng, 0.1f, 1.0f)).ok());
    for (int p = 0; p < kNumProj; ++p) {
      const Proj proj = static_cast<Proj>(p);
      const int64_t in = ProjInDim(config, proj);
      ASSERT_TRUE(writer.Add(absl::StrCat(prefix, ProjName(proj), ".weight"),
                             Random({ProjOutDim(config, proj), in}, rng, 1.0f / std::sqrt(float(in))))
                      .ok());
    }
  }
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir).c_str()), 0);
  ASSERT_TRUE(writer.WriteAtomically(dir + "/model.safetensors").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", LlamaConfigToJson(config)).ok());

  const std::vector<int64_t> tokens = {72, 101, 108, 108, 111, 32, 259, 0, 7};
  auto torch_model = nn::LoadCheckpoint(dir, torch::kCPU);
  ASSERT_TRUE(torch_model.ok()) << torch_model.status();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::tensor(tokens, torch::kInt64).view({1, -1});
  torch::Tensor expected = (*torch_model)->forward(ids).contiguous();  // [1, T, V]

  auto file = SafetensorsFile::Open(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok());
  auto model = LlamaModel::Load(config, *file);
  ASSERT_TRUE(model.ok()) << model.status();
  auto session = Session::Create(&*model, nullptr, {});
  ASSERT_TRUE(session.ok());
  float worst = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto logits = session->Step(tokens[t]);
    ASSERT_TRUE(logits.ok());
    const float* want = expected.data_ptr<float>() + t * config.vocab_size;
    for (int64_t v = 0; v < config.vocab_size; ++v) worst = std::max(worst, std::fabs((*logits)[v] - want[v]));
  }
  EXPECT_LE(worst, 1e-4f) << "max |engine - LibTorch| over all logits";
}

TEST(NnParityTest, UntiedLogitsMatchLibTorchModel) { CheckParity(false, "untied"); }
TEST(NnParityTest, TiedLogitsMatchLibTorchModel) { CheckParity(true, "tied"); }

}  // namespace
}  // namespace libra::engine
