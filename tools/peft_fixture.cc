#include "tools/peft_fixture.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"

namespace libra {

int FixtureRank(const PeftFixture& fixture, const std::string& module) {
  for (const auto& [key, rank] : fixture.rank_pattern) {
    if (module == key || absl::EndsWith(module, "." + key)) return rank;
  }
  return fixture.rank;
}

absl::Status WritePeftFixture(const std::string& dir, const PeftFixture& fixture) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create folder: ", std::strerror(errno), " (", dir, ")"));
  }
  std::mt19937_64 rng(fixture.seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  SafetensorsWriter writer;
  writer.SetMetadata("format", "pt");
  for (const PeftFixtureModule& module : fixture.modules) {
    const int rank = FixtureRank(fixture, module.name);
    Tensor a = Tensor::Zeros({rank, module.in_features});
    Tensor b = Tensor::Zeros({module.out_features, rank});
    for (float& v : a.values()) v = normal(rng);
    for (float& v : b.values()) v = normal(rng);
    const std::string prefix = "base_model.model." + module.name;
    LIBRA_RETURN_IF_ERROR(writer.Add(prefix + ".lora_A.weight", a, fixture.dtype));
    LIBRA_RETURN_IF_ERROR(writer.Add(prefix + ".lora_B.weight", b, fixture.dtype));
  }
  nlohmann::ordered_json config;
  config["alpha_pattern"] = nlohmann::ordered_json::object();
  for (const auto& [key, alpha] : fixture.alpha_pattern) config["alpha_pattern"][key] = alpha;
  config["auto_mapping"] = nullptr;
  config["base_model_name_or_path"] = fixture.base_model;
  config["bias"] = "none";
  config["fan_in_fan_out"] = false;
  config["inference_mode"] = true;
  config["init_lora_weights"] = true;
  config["layers_pattern"] = nullptr;
  config["layers_to_transform"] = nullptr;
  config["lora_alpha"] = fixture.alpha;
  config["lora_dropout"] = 0.05;
  config["modules_to_save"] = nullptr;
  config["peft_type"] = "LORA";
  config["r"] = fixture.rank;
  config["rank_pattern"] = nlohmann::ordered_json::object();
  for (const auto& [key, rank] : fixture.rank_pattern) config["rank_pattern"][key] = rank;
  config["revision"] = nullptr;
  config["target_modules"] = fixture.target_modules;
  config["task_type"] = "CAUSAL_LM";
  config["use_dora"] = false;
  config["use_rslora"] = fixture.use_rslora;
  for (auto it = fixture.extra_config.begin(); it != fixture.extra_config.end(); ++it) {
    config[it.key()] = it.value();
  }
  LIBRA_RETURN_IF_ERROR(writer.WriteAtomically(dir + "/adapter_model.safetensors"));
  return WriteFileAtomically(dir + "/adapter_config.json", config.dump(2) + "\n");
}

std::vector<PeftFixtureModule> LlamaAttentionModules(int layers, int64_t dim) {
  std::vector<PeftFixtureModule> modules;
  for (int i = 0; i < layers; ++i) {
    for (const char* projection : {"q_proj", "v_proj"}) {
      modules.push_back({absl::StrCat("model.layers.", i, ".self_attn.", projection), dim, dim});
    }
  }
  return modules;
}

}  // namespace libra
