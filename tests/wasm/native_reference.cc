// Writes inputs and native results for wasm_node_test.cjs: the same core
// functions the wasm build exposes, run natively on deterministic inputs.
//
//   native_reference OUT_DIR
// OUT_DIR/inputs.safetensors: experts e0..e2 [64, 48], hidden [5, 48],
//   prototypes [4, 48], lora_a [4, 48], lora_b [40, 4]
// OUT_DIR/expected.safetensors: merged.<method>, route.experts, route.weights,
//   prototype, logits (engine, OUT_DIR/model + expert)
// OUT_DIR/cases.json: the merge requests (method + parameters JSON)
// OUT_DIR/mbc/<name>.safetensors: five LoRA experts in two families;
//   expected.safetensors mbc.similarity [5, 5], mbc.assignment [5],
//   mbc.embedding (cluster::ClusterLoraFiles with mbc_options.json)
// OUT_DIR/library/: an expert library written by ExpertLibrary (library.pb,
//   the engine's expert with lora_alpha 8 in its record but a misleading
//   "lora_alpha" 1 in the file's metadata); library_expected.json: its
//   manifest in manifest_json.h's form
#include <sys/stat.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/core/arrow/prototype.h"
#include "src/core/arrow/router.h"
#include "src/core/cluster/mbc_files.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/engine/model.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"
#include "src/core/library/manifest_json.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/registry.h"

namespace {

using libra::Tensor;

Tensor Random(libra::Shape shape, std::mt19937& rng, float stddev, float mean = 0) {
  std::normal_distribution<float> normal(mean, stddev);
  Tensor t = Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "native_reference: %s\n", status.ToString().c_str());
  return 1;
}

struct Case {
  const char* method;
  libra::merge::MergeArguments args;
  const char* json;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string out = argv[1];
  std::mt19937 rng(1234);
  libra::SafetensorsWriter inputs, expected;
  std::vector<Tensor> experts;
  for (int e = 0; e < 3; ++e) {
    experts.push_back(Random({64, 48}, rng, 0.5f));
    (void)inputs.Add(absl::StrCat("e", e), experts.back());
  }
  std::vector<Case> cases = {
      {"linear", {{}, {{"weight", {0.5, 0.3, 0.2}}}}, R"({"weight": [0.5, 0.3, 0.2]})"},
      {"uniform", {}, "{}"},
      {"task_arithmetic", {{{"lambda", 0.7}}, {}}, R"({"lambda": 0.7})"},
      {"ties", {{{"density", 0.3}, {"lambda", 1.0}}, {}}, R"({"density": 0.3, "lambda": 1.0})"},
      {"dare_ties", {{{"density", 0.5}, {"seed", 7}}, {}}, R"({"density": 0.5, "seed": 7})"},
      {"magnitude_prune", {{{"density", 0.4}}, {}}, R"({"density": 0.4})"},
  };
  std::string cases_json = "[";
  for (size_t i = 0; i < cases.size(); ++i) {
    auto method = libra::merge::FindMethod(cases[i].method);
    if (!method.ok()) return Fail(method.status());
    auto params = libra::merge::BindParams(**method, cases[i].args, 3);
    if (!params.ok()) return Fail(params.status());
    auto merged = libra::merge::Merge(**method, nullptr, experts, *params);
    if (!merged.ok()) return Fail(merged.status());
    (void)expected.Add(absl::StrCat("merged.", cases[i].method), *merged);
    absl::StrAppend(&cases_json, i ? "," : "", "{\"method\": \"", cases[i].method, "\", \"params\": ",
                    cases[i].json, "}");
  }
  cases_json += "]";

  Tensor hidden = Random({5, 48}, rng, 1.0f), prototypes = Random({4, 48}, rng, 0.2f);
  (void)inputs.Add("hidden", hidden);
  (void)inputs.Add("prototypes", prototypes);
  libra::arrow::RouterOptions router;
  router.top_k = 2;
  router.temperature = 0.5f;
  auto routing = libra::arrow::Route(hidden, prototypes, router);
  if (!routing.ok()) return Fail(routing.status());
  std::vector<float> expert_ids(routing->experts.begin(), routing->experts.end());
  (void)expected.Add("route.experts", Tensor({5, 2}, expert_ids));
  (void)expected.Add("route.weights", Tensor({5, 2}, routing->weights));

  Tensor lora_a = Random({4, 48}, rng, 0.3f), lora_b = Random({40, 4}, rng, 0.3f);
  (void)inputs.Add("lora_a", lora_a);
  (void)inputs.Add("lora_b", lora_b);
  auto prototype = libra::arrow::TopRightSingularVector(lora_a, lora_b, 2.0f);
  if (!prototype.ok()) return Fail(prototype.status());
  (void)expected.Add("prototype", *prototype);

  // A tiny model and one expert for the engine.
  libra::engine::LlamaConfig config;
  config.vocab_size = 260;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_layers = 2;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.max_positions = 64;
  libra::SafetensorsWriter model;
  (void)model.Add("model.embed_tokens.weight", Random({260, 32}, rng, 1.0f));
  (void)model.Add("model.norm.weight", Random({32}, rng, 0.1f, 1.0f));
  libra::SafetensorsWriter expert;
  for (int l = 0; l < 2; ++l) {
    const std::string prefix = absl::StrCat("model.layers.", l, ".");
    (void)model.Add(prefix + "input_layernorm.weight", Random({32}, rng, 0.1f, 1.0f));
    (void)model.Add(prefix + "post_attention_layernorm.weight", Random({32}, rng, 0.1f, 1.0f));
    for (int p = 0; p < libra::engine::kNumProj; ++p) {
      const auto proj = static_cast<libra::engine::Proj>(p);
      const int64_t in = libra::engine::ProjInDim(config, proj), out_dim = libra::engine::ProjOutDim(config, proj);
      (void)model.Add(absl::StrCat(prefix, libra::engine::ProjName(proj), ".weight"),
                      Random({out_dim, in}, rng, 0.2f));
      const std::string m = absl::StrCat(prefix, libra::engine::ProjName(proj));
      (void)expert.Add(m + ".lora_A.weight", Random({4, in}, rng, 0.3f));
      (void)expert.Add(m + ".lora_B.weight", Random({out_dim, 4}, rng, 0.1f));
    }
  }
  config.tie_word_embeddings = true;
  expert.SetMetadata("lora_alpha", "8");
  const std::string model_bytes = model.Serialize(), expert_bytes = expert.Serialize();
  auto model_file = libra::SafetensorsFile::FromBytes(model_bytes, "model");
  auto expert_file = libra::SafetensorsFile::FromBytes(expert_bytes, "expert");
  if (!model_file.ok() || !expert_file.ok()) return Fail(absl::InternalError("serialize"));
  auto llama = libra::engine::LlamaModel::Load(config, *model_file);
  if (!llama.ok()) return Fail(llama.status());
  std::vector<libra::engine::LoraExpert> loaded;
  auto lora = libra::engine::LoadLoraExpert("expert", *expert_file, config);
  if (!lora.ok()) return Fail(lora.status());
  loaded.push_back(std::move(*lora));
  auto session = libra::engine::Session::Create(&*llama, &loaded, {});
  if (!session.ok()) return Fail(session.status());
  std::vector<float> logits;
  for (int64_t token : {72, 105, 33, 10}) {
    auto step = session->Step(token);
    if (!step.ok()) return Fail(step.status());
    logits.insert(logits.end(), step->begin(), step->end());
  }
  (void)expected.Add("logits", Tensor({4, 260}, logits));

  // MBC: experts 0-2 share one direction, 3-4 another.
  if (mkdir((out + "/mbc").c_str(), 0755) != 0) return Fail(absl::InternalError("mkdir mbc"));
  std::vector<std::string> mbc_paths;
  {
    std::vector<Tensor> family_a = {Random({2, 24}, rng, 1.0f), Random({2, 24}, rng, 1.0f)};
    std::vector<Tensor> family_b = {Random({16, 2}, rng, 1.0f), Random({16, 2}, rng, 1.0f)};
    const char* names[] = {"red", "orange", "yellow", "blue", "violet"};
    for (int e = 0; e < 5; ++e) {
      const int f = e < 3 ? 0 : 1;
      libra::SafetensorsWriter lora_file;
      for (const char* module : {"model.layers.0.self_attn.q_proj", "model.layers.1.mlp.up_proj"}) {
        Tensor a = Random({2, 24}, rng, 0.4f), b = Random({16, 2}, rng, 0.4f);
        for (size_t i = 0; i < a.values().size(); ++i) a.values()[i] += family_a[f].values()[i];
        for (size_t i = 0; i < b.values().size(); ++i) b.values()[i] += family_b[f].values()[i];
        (void)lora_file.Add(absl::StrCat("base_model.model.", module, ".lora_A.weight"), a);
        (void)lora_file.Add(absl::StrCat("base_model.model.", module, ".lora_B.weight"), b);
      }
      mbc_paths.push_back(absl::StrCat(out, "/mbc/", names[e], ".safetensors"));
      absl::Status written = lora_file.WriteAtomically(mbc_paths.back());
      if (!written.ok()) return Fail(written);
    }
  }
  libra::cluster::MbcOptions mbc_options;
  mbc_options.k = 2;
  mbc_options.sparsity_quantile = 0.5;
  mbc_options.embedding_dims = 3;
  mbc_options.restarts = 4;
  mbc_options.seed = 9;
  auto mbc = libra::cluster::ClusterLoraFiles(mbc_paths, mbc_options);
  if (!mbc.ok()) return Fail(mbc.status());
  (void)expected.Add("mbc.similarity", mbc->similarity);
  (void)expected.Add("mbc.embedding", mbc->embedding);
  std::vector<float> assignment(mbc->assignment.begin(), mbc->assignment.end());
  (void)expected.Add("mbc.assignment", Tensor({5}, assignment));

  // An expert library holding the engine's expert.
  auto library = libra::ExpertLibrary::Create(out + "/library", "node test", "tiny-llama");
  if (!library.ok()) return Fail(library.status());
  {
    libra::SafetensorsWriter misleading;
    for (const libra::TensorInfo& info : expert_file->tensors()) {
      auto t = expert_file->ReadFloat(info.name);
      if (!t.ok()) return Fail(t.status());
      (void)misleading.Add(info.name, *t);
    }
    misleading.SetMetadata("lora_alpha", "1");
    libra::ExpertRecord record;
    record.name = "expert";
    record.type = libra::AdapterType::kLora;
    record.lora.rank = 4;
    record.lora.alpha = 8;
    record.tasks = {"greeting", "exclaim"};
    record.metrics["accuracy"] = 0.75;
    record.training_config["steps"] = "100";
    auto added = library->Add(record, misleading.Serialize());
    if (!added.ok()) return Fail(added.status());
  }

  absl::Status status = inputs.WriteAtomically(out + "/inputs.safetensors");
  status.Update(expected.WriteAtomically(out + "/expected.safetensors"));
  status.Update(libra::WriteFileAtomically(out + "/model.safetensors", model_bytes));
  status.Update(libra::WriteFileAtomically(out + "/expert.safetensors", expert_bytes));
  status.Update(libra::WriteFileAtomically(out + "/config.json", libra::engine::LlamaConfigToJson(config)));
  status.Update(libra::WriteFileAtomically(out + "/cases.json", cases_json));
  status.Update(libra::WriteFileAtomically(
      out + "/mbc_options.json",
      R"({"k": 2, "sparsityQuantile": 0.5, "embeddingDims": 3, "restarts": 4, "seed": 9})"));
  status.Update(libra::WriteFileAtomically(out + "/library_expected.json",
                                           libra::ManifestToJson(library->manifest()).dump()));
  if (!status.ok()) return Fail(status);
  return 0;
}
