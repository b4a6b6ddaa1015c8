// Engine logits and routing against an independent Python torch forward
// (llama_reference.py, float64) on tiny random checkpoints written here.
#include "src/core/engine/model.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"

namespace libra::engine {
namespace {

LlamaConfig TinyConfig(bool tied) {
  LlamaConfig config;
  config.vocab_size = 67;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_layers = 2;
  config.num_heads = 4;
  config.num_kv_heads = 2;  // GQA
  config.max_positions = 32;
  config.rms_norm_eps = 1e-5f;
  config.rope_theta = 500.0f;  // small theta: rotations matter within a short sequence
  config.tie_word_embeddings = tied;
  return config;
}

Tensor Random(Shape shape, std::mt19937& rng, float stddev, float mean = 0) {
  std::normal_distribution<float> normal(mean, stddev);
  Tensor t = Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

std::string TempDir(const std::string& name) {
  std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::system(absl::StrCat("mkdir -p ", dir).c_str());
  return dir;
}

// Writes config.json + model.safetensors; returns the folder.
std::string WriteModel(const LlamaConfig& config, const std::string& name, uint32_t seed) {
  std::mt19937 rng(seed);
  SafetensorsWriter writer;
  const int64_t d = config.hidden_size;
  EXPECT_TRUE(writer.Add("model.embed_tokens.weight", Random({config.vocab_size, d}, rng, 1.0f)).ok());
  EXPECT_TRUE(writer.Add("model.norm.weight", Random({d}, rng, 0.1f, 1.0f)).ok());
  if (!config.tie_word_embeddings) {
    EXPECT_TRUE(writer.Add("lm_head.weight", Random({config.vocab_size, d}, rng, 0.2f)).ok());
  }
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string prefix = absl::StrCat("model.layers.", l, ".");
    EXPECT_TRUE(writer.Add(prefix + "input_layernorm.weight", Random({d}, rng, 0.1f, 1.0f)).ok());
    EXPECT_TRUE(writer.Add(prefix + "post_attention_layernorm.weight", Random({d}, rng, 0.1f, 1.0f)).ok());
    for (int p = 0; p < kNumProj; ++p) {
      const Proj proj = static_cast<Proj>(p);
      const int64_t in = ProjInDim(config, proj);
      EXPECT_TRUE(writer.Add(absl::StrCat(prefix, ProjName(proj), ".weight"),
                             Random({ProjOutDim(config, proj), in}, rng, 1.0f / std::sqrt(float(in))))
                      .ok());
    }
  }
  const std::string dir = TempDir(name);
  EXPECT_TRUE(writer.WriteAtomically(dir + "/model.safetensors").ok());
  EXPECT_TRUE(WriteFileAtomically(dir + "/config.json", LlamaConfigToJson(config)).ok());
  return dir;
}

// A PEFT-named expert adapting `projs` in every layer; lora_alpha 8.
std::string WriteExpert(const LlamaConfig& config, const std::string& path, uint32_t seed,
                        const std::vector<Proj>& projs, int64_t rank) {
  std::mt19937 rng(seed);
  SafetensorsWriter writer;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (Proj proj : projs) {
      const std::string m = absl::StrCat("base_model.model.model.layers.", l, ".", ProjName(proj));
      EXPECT_TRUE(writer.Add(m + ".lora_A.weight", Random({rank, ProjInDim(config, proj)}, rng, 0.3f)).ok());
      EXPECT_TRUE(writer.Add(m + ".lora_B.weight", Random({ProjOutDim(config, proj), rank}, rng, 0.1f)).ok());
    }
  }
  writer.SetMetadata("lora_alpha", "8");
  EXPECT_TRUE(writer.WriteAtomically(path).ok());
  return path;
}

struct Reference {
  std::vector<float> logits;   // [T, V]
  std::vector<float> routing;  // [T, L, 7, E]
};

Reference RunPython(const std::string& model_dir, const std::string& mode, int top_k, float temperature,
                    bool param_mix, const std::vector<int64_t>& tokens, const std::vector<std::string>& experts,
                    const LlamaConfig& config) {
  std::string token_list;
  for (size_t i = 0; i < tokens.size(); ++i) absl::StrAppend(&token_list, i ? "," : "", tokens[i]);
  const std::string out = model_dir + "/reference.bin";
  std::string command = absl::StrCat("/usr/bin/python3 tests/core/engine/llama_reference.py ", model_dir, " ",
                                     out, " ", mode, " ", top_k, " ", temperature, " ", param_mix ? 1 : 0,
                                     " ", token_list);
  for (const std::string& e : experts) absl::StrAppend(&command, " ", e);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(out, std::ios::binary);
  std::vector<float> all((std::istreambuf_iterator<char>(in)), {});
  std::ifstream again(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(again)), {});
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), values.size() * 4);
  Reference ref;
  const size_t n_logits = tokens.size() * config.vocab_size;
  EXPECT_GE(values.size(), n_logits);
  ref.logits.assign(values.begin(), values.begin() + n_logits);
  ref.routing.assign(values.begin() + n_logits, values.end());
  return ref;
}

struct Loaded {
  LlamaConfig config;
  LlamaModel model;
  std::vector<LoraExpert> experts;
};

Loaded LoadAll(const std::string& dir, const std::vector<std::string>& expert_paths) {
  Loaded loaded;
  auto text = ReadFile(dir + "/config.json");
  EXPECT_TRUE(text.ok());
  auto config = ParseLlamaConfig(*text, "config.json");
  EXPECT_TRUE(config.ok()) << config.status();
  loaded.config = *config;
  auto file = SafetensorsFile::Open(dir + "/model.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  auto model = LlamaModel::Load(loaded.config, *file);
  EXPECT_TRUE(model.ok()) << model.status();
  loaded.model = std::move(*model);
  for (const std::string& path : expert_paths) {
    auto expert_file = SafetensorsFile::Open(path);
    EXPECT_TRUE(expert_file.ok()) << expert_file.status();
    auto expert = LoadLoraExpert(path, *expert_file, loaded.config);
    EXPECT_TRUE(expert.ok()) << expert.status();
    loaded.experts.push_back(std::move(*expert));
  }
  return loaded;
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, float tolerance,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  EXPECT_LE(worst, tolerance) << what << ": max |diff| " << worst;
}

const std::vector<int64_t> kTokens = {5, 17, 3, 66, 0, 42, 42, 9};

void CompareRun(bool tied, RoutingOptions options, int num_experts, const std::string& name) {
  const LlamaConfig config = TinyConfig(tied);
  const std::string dir = WriteModel(config, name, 7);
  std::vector<std::string> experts;
  const std::vector<std::vector<Proj>> adapted = {
      {Proj::kQ, Proj::kK, Proj::kV, Proj::kO, Proj::kGate, Proj::kUp, Proj::kDown},
      {Proj::kQ, Proj::kK, Proj::kV, Proj::kO, Proj::kGate, Proj::kUp, Proj::kDown},
      {Proj::kQ, Proj::kV, Proj::kDown}};
  for (int e = 0; e < num_experts; ++e) {
    experts.push_back(WriteExpert(config, absl::StrCat(dir, "/expert", e, ".safetensors"), 100 + e,
                                  adapted[e % adapted.size()], 4));
  }
  Loaded loaded = LoadAll(dir, experts);
  auto session = Session::Create(&loaded.model, &loaded.experts, options);
  ASSERT_TRUE(session.ok()) << session.status();
  std::vector<float> logits;
  for (int64_t token : kTokens) {
    auto step = session->Step(token);
    ASSERT_TRUE(step.ok()) << step.status();
    logits.insert(logits.end(), step->begin(), step->end());
  }
  const Reference ref = RunPython(
      dir, options.mode == RoutingOptions::Mode::kArrow ? "arrow" : "uniform", options.top_k,
      options.temperature, options.parameter_mixing, kTokens, experts, config);
  ExpectNear(logits, ref.logits, 1e-4f, "logits");
  ExpectNear(session->routing(), ref.routing, 1e-4f, "routing weights");
}

TEST(EngineTest, BaseModelMatchesTorchUntied) { CompareRun(false, {}, 0, "base_untied"); }
TEST(EngineTest, BaseModelMatchesTorchTied) { CompareRun(true, {}, 0, "base_tied"); }

TEST(EngineTest, ArrowOutputMixingMatchesTorch) {
  RoutingOptions options;
  options.top_k = 2;
  CompareRun(false, options, 3, "arrow_top2");
}

TEST(EngineTest, ArrowTemperatureTop1MatchesTorch) {
  RoutingOptions options;
  options.top_k = 1;
  options.temperature = 0.5f;
  CompareRun(true, options, 4, "arrow_top1");
}

TEST(EngineTest, ArrowParameterMixingMatchesTorch) {
  RoutingOptions options;
  options.top_k = 2;
  options.parameter_mixing = true;
  CompareRun(false, options, 3, "arrow_param_mix");
}

TEST(EngineTest, UniformMixingMatchesTorch) {
  RoutingOptions options;
  options.mode = RoutingOptions::Mode::kUniform;
  CompareRun(false, options, 3, "uniform");
}

TEST(EngineTest, RoutingWeightsSumToOnePerModule) {
  const LlamaConfig config = TinyConfig(false);
  const std::string dir = WriteModel(config, "sums", 3);
  std::vector<std::string> experts;
  for (int e = 0; e < 3; ++e) {
    experts.push_back(WriteExpert(config, absl::StrCat(dir, "/e", e, ".safetensors"), 50 + e,
                                  {Proj::kQ, Proj::kDown}, 2));
  }
  Loaded loaded = LoadAll(dir, experts);
  RoutingOptions options;
  options.top_k = 2;
  auto session = Session::Create(&loaded.model, &loaded.experts, options);
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(session->Step(1).ok());
  const auto& r = session->routing();
  ASSERT_EQ(r.size(), static_cast<size_t>(config.num_layers * kNumProj * 3));
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      float sum = 0;
      int nonzero = 0;
      for (int e = 0; e < 3; ++e) {
        sum += r[(l * kNumProj + p) * 3 + e];
        nonzero += r[(l * kNumProj + p) * 3 + e] > 0;
      }
      const bool adapted = p == static_cast<int>(Proj::kQ) || p == static_cast<int>(Proj::kDown);
      EXPECT_NEAR(sum, adapted ? 1.0f : 0.0f, 1e-6f);
      EXPECT_EQ(nonzero, adapted ? 2 : 0);
    }
  }
}

TEST(EngineTest, GreedyGenerationFollowsTorchArgmax) {
  const LlamaConfig config = TinyConfig(false);
  const std::string dir = WriteModel(config, "generate", 11);
  const std::string expert = WriteExpert(config, dir + "/e.safetensors", 9, {Proj::kV, Proj::kUp}, 4);
  Loaded loaded = LoadAll(dir, {expert});
  auto session = Session::Create(&loaded.model, &loaded.experts, {});
  ASSERT_TRUE(session.ok());
  const std::vector<int64_t> prompt = {1, 2, 3};
  auto generation = GenerateGreedy(*session, prompt, 6, -1);
  ASSERT_TRUE(generation.ok()) << generation.status();
  ASSERT_EQ(generation->tokens.size(), 6u);
  EXPECT_EQ(generation->steps, 8);
  EXPECT_EQ(generation->routing.size(), static_cast<size_t>(8 * config.num_layers * kNumProj));
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), generation->tokens.begin(), generation->tokens.end() - 1);
  const Reference ref = RunPython(dir, "arrow", 4, 1.0f, false, all, {expert}, config);
  for (size_t i = 0; i < generation->tokens.size(); ++i) {
    const float* row = ref.logits.data() + (prompt.size() - 1 + i) * config.vocab_size;
    const int64_t argmax = std::max_element(row, row + config.vocab_size) - row;
    EXPECT_EQ(generation->tokens[i], argmax) << "generated token " << i;
  }
}

TEST(EngineTest, EosStopsGeneration) {
  const LlamaConfig config = TinyConfig(true);
  Loaded loaded = LoadAll(WriteModel(config, "eos", 12), {});
  auto first = Session::Create(&loaded.model, nullptr, {});
  ASSERT_TRUE(first.ok());
  auto free_run = GenerateGreedy(*first, std::vector<int64_t>{4, 5}, 3, -1);
  ASSERT_TRUE(free_run.ok());
  auto second = Session::Create(&loaded.model, nullptr, {});
  auto stopped = GenerateGreedy(*second, std::vector<int64_t>{4, 5}, 3, free_run->tokens[0]);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(stopped->tokens.empty());
}

TEST(EngineTest, LoadRejectsWrongShapeAndMissingTensor) {
  LlamaConfig config = TinyConfig(false);
  const std::string dir = WriteModel(config, "bad_shape", 1);
  auto file = SafetensorsFile::Open(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok());
  LlamaConfig wider = config;
  wider.intermediate_size = 64;
  auto model = LlamaModel::Load(wider, *file);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(model.status().message()).find("\"model.layers.0.mlp.gate_proj.weight\": expected [64, 32], got [48, 32]"),
            std::string::npos)
      << model.status();
  LlamaConfig deeper = config;
  deeper.num_layers = 3;
  auto missing = LlamaModel::Load(deeper, *file);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("model.layers.2.input_layernorm.weight"), std::string::npos);
}

TEST(EngineTest, LoraLoaderRejectsShapeMismatchAndUnpairedFactors) {
  const LlamaConfig config = TinyConfig(false);
  const std::string dir = TempDir("bad_lora");
  std::mt19937 rng(1);
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("model.layers.0.self_attn.q_proj.lora_A.weight", Random({4, 32}, rng, 1)).ok());
  ASSERT_TRUE(writer.Add("model.layers.0.self_attn.q_proj.lora_B.weight", Random({32, 8}, rng, 1)).ok());
  auto file = SafetensorsFile::FromBytes(writer.Serialize(), "bad.safetensors");
  ASSERT_TRUE(file.ok());
  auto expert = LoadLoraExpert("bad", *file, config);
  EXPECT_EQ(expert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(expert.status().message()).find("expected [32, 4], got [32, 8]"), std::string::npos)
      << expert.status();

  SafetensorsWriter unpaired;
  ASSERT_TRUE(unpaired.Add("model.layers.1.mlp.up_proj.lora_A.weight", Random({4, 32}, rng, 1)).ok());
  auto file2 = SafetensorsFile::FromBytes(unpaired.Serialize(), "unpaired.safetensors");
  ASSERT_TRUE(file2.ok());
  auto expert2 = LoadLoraExpert("unpaired", *file2, config);
  EXPECT_NE(std::string(expert2.status().message()).find("lora_B is missing"), std::string::npos)
      << expert2.status();

  SafetensorsWriter deep;
  ASSERT_TRUE(deep.Add("model.layers.7.mlp.up_proj.lora_A.weight", Random({4, 32}, rng, 1)).ok());
  auto file3 = SafetensorsFile::FromBytes(deep.Serialize(), "deep.safetensors");
  auto expert3 = LoadLoraExpert("deep", *file3, config);
  EXPECT_NE(std::string(expert3.status().message()).find("layer 7 outside"), std::string::npos);
}

TEST(EngineTest, ConfigRejectsBadValues) {
  auto missing = ParseLlamaConfig(R"({"vocab_size": 4})", "c.json");
  EXPECT_NE(std::string(missing.status().message()).find("missing \"hidden_size\""), std::string::npos)
      << missing.status();
  auto heads = ParseLlamaConfig(
      R"({"vocab_size":4,"hidden_size":30,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4})",
      "c.json");
  EXPECT_NE(std::string(heads.status().message()).find("do not divide"), std::string::npos);
  auto act = ParseLlamaConfig(
      R"({"vocab_size":4,"hidden_size":32,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"hidden_act":"gelu"})",
      "c.json");
  EXPECT_NE(std::string(act.status().message()).find("hidden_act"), std::string::npos);
  EXPECT_EQ(ParseLlamaConfig("[1,", "c.json").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EngineTest, SessionRejectsBadTokenAndFullCache) {
  LlamaConfig config = TinyConfig(true);
  config.max_positions = 2;
  Loaded loaded = LoadAll(WriteModel(config, "cache", 2), {});
  auto session = Session::Create(&loaded.model, nullptr, {});
  ASSERT_TRUE(session.ok());
  EXPECT_NE(std::string(session->Step(67).status().message()).find("outside the vocabulary"), std::string::npos);
  ASSERT_TRUE(session->Step(1).ok());
  ASSERT_TRUE(session->Step(2).ok());
  EXPECT_EQ(session->Step(3).status().code(), absl::StatusCode::kOutOfRange);
  RoutingOptions bad;
  bad.top_k = 0;
  EXPECT_FALSE(Session::Create(&loaded.model, nullptr, bad).ok());
}

}  // namespace
}  // namespace libra::engine
