// Native side of the routed-generation benchmark: the demo bundle (base/ +
// library/) through src/core/engine, greedy generation with Arrow routing,
// tokens/s of the best of REPEATS runs. generate_bench.cjs runs the same in
// wasm; run_generate.sh prints both and the ratio.
//
//   generate_bench BUNDLE_DIR NEW_TOKENS REPEATS TOP_K
// Prints "native <tokens fed> <best seconds> <tokens/s>". The prompt is
// "Q: what is 2+2? A:" framed as in training (<bos> text <sep>), no eos stop.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/engine/model.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"
#include "src/core/lora/lora_modules.h"

namespace {

using libra::engine::LoraExpert;

// As wasm/bindings.cc's addLibraryExpert: the scale of each module is the
// manifest record's (alpha, rank, rsLoRA, patterns), not the file's.
absl::StatusOr<LoraExpert> LoadLibraryExpert(const libra::ExpertLibrary& library, const libra::ExpertRecord& record,
                                             const libra::engine::LlamaConfig& config) {
  absl::StatusOr<libra::SafetensorsFile> file = library.OpenExpertFile(record.name);
  if (!file.ok()) return file.status();
  absl::StatusOr<LoraExpert> expert = libra::engine::LoadLoraExpert(record.name, *file, config);
  if (!expert.ok()) return expert.status();
  absl::StatusOr<std::vector<libra::NamedLoraModule>> modules = libra::ReadLoraModules(*file);
  if (!modules.ok()) return modules.status();
  for (const libra::NamedLoraModule& module : *modules) {
    for (auto& [key, lora] : expert->modules) {
      const std::string suffix = absl::StrCat("layers.", key.first, ".",
                                              libra::engine::ProjName(static_cast<libra::engine::Proj>(key.second)));
      if (module.name.size() >= suffix.size() &&
          module.name.compare(module.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        lora.scale = static_cast<float>(record.lora.ScaleOf(module.name, module.a.shape()[0]));
      }
    }
  }
  return expert;
}

absl::Status Run(const std::string& bundle, int new_tokens, int repeats, int top_k) {
  absl::StatusOr<std::string> config_text = libra::ReadFile(bundle + "/base/config.json");
  if (!config_text.ok()) return config_text.status();
  absl::StatusOr<libra::engine::LlamaConfig> config =
      libra::engine::ParseLlamaConfig(*config_text, bundle + "/base/config.json");
  if (!config.ok()) return config.status();
  absl::StatusOr<libra::SafetensorsFile> weights = libra::SafetensorsFile::Open(bundle + "/base/model.safetensors");
  if (!weights.ok()) return weights.status();
  absl::StatusOr<libra::engine::LlamaModel> model = libra::engine::LlamaModel::Load(*config, *weights);
  if (!model.ok()) return model.status();
  absl::StatusOr<libra::ExpertLibrary> library = libra::ExpertLibrary::Open(bundle + "/library");
  if (!library.ok()) return library.status();
  std::vector<LoraExpert> experts;
  for (const libra::ExpertRecord& record : library->List()) {
    if (record.type != libra::AdapterType::kLora) continue;
    absl::StatusOr<LoraExpert> expert = LoadLibraryExpert(*library, record, *config);
    if (!expert.ok()) return expert.status();
    experts.push_back(std::move(*expert));
  }
  std::vector<int64_t> prompt = {257};
  for (char c : std::string("Q: what is 2+2? A:")) prompt.push_back(static_cast<unsigned char>(c));
  prompt.push_back(259);
  libra::engine::RoutingOptions options;
  options.top_k = top_k;
  double best = 1e30;
  int64_t steps = 0;
  for (int r = 0; r < repeats; ++r) {
    absl::StatusOr<libra::engine::Session> session = libra::engine::Session::Create(&*model, &experts, options);
    if (!session.ok()) return session.status();
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<libra::engine::Generation> out = libra::engine::GenerateGreedy(*session, prompt, new_tokens, -1);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!out.ok()) return out.status();
    steps = out->steps;
    if (seconds < best) best = seconds;
  }
  std::printf("native %lld %.6f %.1f\n", static_cast<long long>(steps), best, steps / best);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: generate_bench BUNDLE_DIR NEW_TOKENS REPEATS TOP_K\n");
    return 2;
  }
  const absl::Status status = Run(argv[1], std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  if (!status.ok()) {
    std::fprintf(stderr, "generate_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
