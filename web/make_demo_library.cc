// Writes the web demo's library: a small byte-level Llama (random weights,
// seeded) and LoRA experts, until paper (a)'s quick reproduction provides a
// trained one. The model's text is therefore meaningless; merging, routing
// and the views work the same.
//
//   make_demo_library OUT_DIR
// OUT_DIR/library.json {"base": {"config": "config.json", "weights":
//   "model.safetensors"}, "experts": [{"name", "file"}]}, config.json,
//   model.safetensors, experts/<name>.safetensors (PEFT names, lora_alpha 8)
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"

namespace {

constexpr uint32_t kSeed = 2024;
constexpr int kRank = 4;
const char* const kExperts[] = {"arithmetic", "geography", "grammar", "logic", "poetry", "code"};

libra::Tensor Random(libra::Shape shape, std::mt19937& rng, float stddev, float mean = 0) {
  std::normal_distribution<float> normal(mean, stddev);
  libra::Tensor t = libra::Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_demo_library OUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  using libra::engine::Proj;
  libra::engine::LlamaConfig config;
  config.vocab_size = 260;  // 256 bytes + 4 specials
  config.hidden_size = 128;
  config.intermediate_size = 384;
  config.num_layers = 4;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.max_positions = 512;
  config.tie_word_embeddings = true;
  std::mt19937 rng(kSeed);
  libra::SafetensorsWriter model;
  absl::Status status;
  status.Update(model.Add("model.embed_tokens.weight", Random({260, 128}, rng, 1.0f)));
  status.Update(model.Add("model.norm.weight", Random({128}, rng, 0.05f, 1.0f)));
  for (int l = 0; l < config.num_layers; ++l) {
    const std::string prefix = absl::StrCat("model.layers.", l, ".");
    status.Update(model.Add(prefix + "input_layernorm.weight", Random({128}, rng, 0.05f, 1.0f)));
    status.Update(model.Add(prefix + "post_attention_layernorm.weight", Random({128}, rng, 0.05f, 1.0f)));
    for (int p = 0; p < libra::engine::kNumProj; ++p) {
      const auto proj = static_cast<Proj>(p);
      const int64_t in = libra::engine::ProjInDim(config, proj);
      status.Update(model.Add(absl::StrCat(prefix, libra::engine::ProjName(proj), ".weight"),
                              Random({libra::engine::ProjOutDim(config, proj), in}, rng, 0.7f / std::sqrt(float(in)))));
    }
  }
  status.Update(libra::WriteFileAtomically(out + "/config.json", libra::engine::LlamaConfigToJson(config)));
  status.Update(model.WriteAtomically(out + "/model.safetensors"));
  std::string manifest = R"json({"name": "demo (random weights)", "base": {"config": "config.json", "weights": "model.safetensors"}, "experts": [)json";
  int index = 0;
  for (const char* name : kExperts) {
    libra::SafetensorsWriter expert;
    for (int l = 0; l < config.num_layers; ++l) {
      for (Proj proj : {Proj::kQ, Proj::kV, Proj::kUp, Proj::kDown}) {
        const std::string m = absl::StrCat("base_model.model.model.layers.", l, ".", libra::engine::ProjName(proj));
        const int64_t in = libra::engine::ProjInDim(config, proj);
        status.Update(expert.Add(m + ".lora_A.weight", Random({kRank, in}, rng, 1.0f / std::sqrt(float(in)))));
        status.Update(expert.Add(m + ".lora_B.weight",
                                 Random({libra::engine::ProjOutDim(config, proj), kRank}, rng, 0.05f)));
      }
    }
    expert.SetMetadata("lora_alpha", "8");
    const std::string file = absl::StrCat("experts/", name, ".safetensors");
    status.Update(expert.WriteAtomically(out + "/" + file));
    absl::StrAppend(&manifest, index++ ? ", " : "", R"({"name": ")", name, R"(", "file": ")", file, R"("})");
  }
  manifest += "]}\n";
  status.Update(libra::WriteFileAtomically(out + "/library.json", manifest));
  if (!status.ok()) {
    std::fprintf(stderr, "make_demo_library: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
