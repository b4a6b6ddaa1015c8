// Writes the web demo's stand-in bundle when paper (a)'s reproduction has not
// produced the trained one (results/arrow_mbc/demo): a small byte-level Llama
// with RANDOM weights (seeded) and an expert library of LoRA experts in the
// same layout, so the page loads both the same way. The model's text is
// meaningless; merging, routing, similarity and clustering work the same.
//
//   make_demo_library OUT_DIR
// OUT_DIR/base/config.json, OUT_DIR/base/model.safetensors  (HF Llama names)
// OUT_DIR/library/library.pb + <expert>.safetensors          (src/core/library)
// OUT_DIR/library/aux/arrow/<expert>.safetensors              (Arrow prototypes)
// OUT_DIR/bundle.json {"random_weights": true, ...}: the page shows a banner
//
// The six experts come in three families (a shared direction plus each
// expert's own part), so the similarity matrix and MBC have structure to show.
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <random>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/arrow/library_prototypes.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"

namespace {

constexpr uint32_t kSeed = 2024;
constexpr int kRank = 4;
constexpr double kAlpha = 8;
struct DemoExpert {
  const char* name;
  int family;
};
constexpr DemoExpert kExperts[] = {{"arithmetic", 0}, {"logic", 0},  {"geography", 1},
                                   {"grammar", 1},    {"poetry", 2}, {"code", 2}};
constexpr int kFamilies = 3;

libra::Tensor Random(libra::Shape shape, std::mt19937& rng, float stddev, float mean = 0) {
  std::normal_distribution<float> normal(mean, stddev);
  libra::Tensor t = libra::Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

// family + 0.6 * own, elementwise.
libra::Tensor Blend(const libra::Tensor& family, const libra::Tensor& own) {
  libra::Tensor out = family;
  for (size_t i = 0; i < out.values().size(); ++i) out.values()[i] += 0.6f * own.values()[i];
  return out;
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create folder (", path, ")"));
  }
  return absl::OkStatus();
}

absl::Status WriteDemo(const std::string& out) {
  using libra::engine::Proj;
  libra::engine::LlamaConfig config;
  config.vocab_size = 260;  // the byte tokenizer: 256 bytes + <pad> <bos> <eos> <sep>
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
  if (!status.ok()) return status;
  for (const std::string& dir : {out, out + "/base"}) {
    if (absl::Status made = MakeDirectory(dir); !made.ok()) return made;
  }
  status.Update(libra::WriteFileAtomically(out + "/base/config.json", libra::engine::LlamaConfigToJson(config)));
  status.Update(model.WriteAtomically(out + "/base/model.safetensors"));
  if (!status.ok()) return status;

  absl::StatusOr<libra::ExpertLibrary> library =
      libra::ExpertLibrary::Create(out + "/library", "demo (random weights)", "demo-byte-llama-random");
  if (!library.ok()) return library.status();
  // Per family and module: shared factors; each expert adds its own.
  std::vector<libra::SafetensorsWriter> files(std::size(kExperts));
  for (int l = 0; l < config.num_layers; ++l) {
    for (Proj proj : {Proj::kQ, Proj::kV, Proj::kUp, Proj::kDown}) {
      const std::string m = absl::StrCat("model.layers.", l, ".", libra::engine::ProjName(proj));
      const int64_t in = libra::engine::ProjInDim(config, proj), out_dim = libra::engine::ProjOutDim(config, proj);
      std::vector<libra::Tensor> family_a, family_b;
      for (int f = 0; f < kFamilies; ++f) {
        family_a.push_back(Random({kRank, in}, rng, 1.0f / std::sqrt(float(in))));
        family_b.push_back(Random({out_dim, kRank}, rng, 0.05f));
      }
      for (size_t e = 0; e < std::size(kExperts); ++e) {
        const int f = kExperts[e].family;
        status.Update(files[e].Add(m + ".lora_A.weight",
                                   Blend(family_a[f], Random({kRank, in}, rng, 1.0f / std::sqrt(float(in))))));
        status.Update(files[e].Add(m + ".lora_B.weight", Blend(family_b[f], Random({out_dim, kRank}, rng, 0.05f))));
      }
    }
  }
  if (!status.ok()) return status;
  for (size_t e = 0; e < std::size(kExperts); ++e) {
    libra::ExpertRecord record;
    record.name = kExperts[e].name;
    record.type = libra::AdapterType::kLora;
    record.lora.rank = kRank;
    record.lora.alpha = kAlpha;
    record.tasks = {kExperts[e].name};
    record.training_config["note"] = "random weights (web/make_demo_library.cc), not trained";
    absl::StatusOr<libra::ExpertRecord> added = library->Add(record, files[e].Serialize());
    if (!added.ok()) return added.status();
  }
  absl::StatusOr<std::vector<libra::arrow::LibraryRefresh>> prototypes =
      libra::arrow::RefreshLibraryPrototypes(*library, /*top_k=*/1);
  if (!prototypes.ok()) return prototypes.status();
  return libra::WriteFileAtomically(
      out + "/bundle.json",
      R"({"random_weights": true, "made_by": "web/make_demo_library", "seed": 2024})"
      "\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_demo_library OUT_DIR\n");
    return 2;
  }
  const absl::Status status = WriteDemo(argv[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "make_demo_library: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
