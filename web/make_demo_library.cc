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
// OUT_DIR/bundle.json: "random_weights": true (the page shows a banner), the
//   tasks (family, held-in/held-out, related tasks) and two examples per
//   task, framed as libra's training frames them (web/README.md)
//
// The six experts come in three families (a shared direction plus each
// expert's own part), so the similarity matrix and MBC have structure to show;
// three held-out tasks, one per family, name their family's experts as
// related, so the page's routing shares have a chance level to compare with.
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
#include "nlohmann/json.hpp"
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
constexpr const char* kFamilyNames[kFamilies] = {"reasoning", "knowledge", "creative"};

// The byte tokenizer's special ids (src/core/text/byte_tokenizer.h).
constexpr int kBos = 257, kEos = 258, kSep = 259;

struct DemoExample {
  const char* source;
  const char* target;
};
// A task of bundle.json: each held-in task is one expert's (same name); a
// held-out task names the held-in tasks it is related to.
struct DemoTask {
  const char* name;
  int family;
  bool held_out;
  std::vector<const char*> related;
  std::vector<DemoExample> examples;
};

const std::vector<DemoTask>& DemoTasks() {
  static const auto* tasks = new std::vector<DemoTask>{
      {"arithmetic", 0, false, {"logic"}, {{"Add: 12+7", "19"}, {"Add: 30+4", "34"}}},
      {"logic", 0, false, {"arithmetic"}, {{"Negate: true", "false"}, {"Negate: no", "yes"}}},
      {"geography", 1, false, {"grammar"}, {{"Capital of France?", "Paris"}, {"Capital of Japan?", "Tokyo"}}},
      {"grammar", 1, false, {"geography"}, {{"Plural of mouse:", "mice"}, {"Past of go:", "went"}}},
      {"poetry", 2, false, {"code"}, {{"Rhyme with cat:", "hat"}, {"Rhyme with moon:", "June"}}},
      {"code", 2, false, {"poetry"}, {{"Reverse: abc", "cba"}, {"Upper: ok", "OK"}}},
      {"algebra", 0, true, {"arithmetic", "logic"}, {{"Solve: x+3=5", "2"}, {"Solve: 2x=8", "4"}}},
      {"history", 1, true, {"geography"}, {{"Moon landing year?", "1969"}, {"First US president?", "Washington"}}},
      {"lyrics", 2, true, {"poetry"}, {{"Rhyme for a song, with love:", "dove"}, {"Rhyme with night:", "light"}}},
  };
  return *tasks;
}

// <bos> source <sep> target <eos>, byte ids: nn::EncodeExample's layout with
// the byte tokenizer; the target starts after <sep>.
nlohmann::json FramedExample(const DemoTask& task, const DemoExample& example) {
  std::vector<int> ids = {kBos};
  for (unsigned char c : std::string(example.source)) ids.push_back(c);
  ids.push_back(kSep);
  const int target_start = static_cast<int>(ids.size());
  for (unsigned char c : std::string(example.target)) ids.push_back(c);
  ids.push_back(kEos);
  return {{"task", task.name},     {"source", example.source}, {"target", example.target},
          {"ids", ids},            {"target_start", target_start}};
}

std::string BundleJson() {
  nlohmann::json tasks = nlohmann::json::array(), examples = nlohmann::json::array();
  for (const DemoTask& task : DemoTasks()) {
    tasks.push_back({{"name", task.name},
                     {"family", kFamilyNames[task.family]},
                     {"held_out", task.held_out},
                     {"related", task.related}});
    for (const DemoExample& example : task.examples) examples.push_back(FramedExample(task, example));
  }
  nlohmann::json bundle = {{"format", "libra-demo-bundle"},
                           {"version", 1},
                           {"made_by", "web/make_demo_library"},
                           {"random_weights", true},
                           {"seed", kSeed},
                           {"tokenizer", "byte"},
                           {"tasks", tasks},
                           {"examples", examples}};
  return bundle.dump(1) + "\n";
}

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
  return libra::WriteFileAtomically(out + "/bundle.json", BundleJson());
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
