#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/checkpoint.h"

#include <sys/stat.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"
#include "src/nn/config.h"
#include "src/nn/convert.h"

namespace libra::nn {
namespace {

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

// Shard file for each tensor name.
absl::StatusOr<std::map<std::string, std::string>> WeightMap(const std::string& dir) {
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> map;
  if (!Exists(index_path)) return map;
  LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(index_path, kMaxConfigFileBytes));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") ||
      !j["weight_map"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": no \"weight_map\" object"));
  }
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map[\"", name, "\"] is not a string"));
    }
    const std::string shard = file.get<std::string>();
    if (shard.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": shard \"", shard, "\" must be a file name in the folder"));
    }
    map[name] = dir + "/" + shard;
  }
  return map;
}

}  // namespace

absl::StatusOr<torch::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || absl::StartsWith(name, "cuda:")) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          absl::StrCat("device \"", name, "\": this LibTorch build or machine has no CUDA"));
    }
    try {
      return torch::Device(name);
    } catch (const c10::Error&) {
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device \"", name, "\" (expected cpu, cuda or cuda:N)"));
}

absl::StatusOr<CausalLM> LoadCheckpoint(const std::string& dir, torch::Device device) {
  LIBRA_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(dir + "/config.json"));
  LIBRA_ASSIGN_OR_RETURN(auto weight_map, WeightMap(dir));
  const std::string single = dir + "/model.safetensors";
  if (weight_map.empty() && !Exists(single)) {
    return absl::NotFoundError(absl::StrCat(
        dir, ": no model.safetensors or model.safetensors.index.json"));
  }
  torch::manual_seed(0);  // the placeholder init is overwritten below
  CausalLM model(config);
  std::map<std::string, std::unique_ptr<SafetensorsFile>> open_files;
  torch::NoGradGuard no_grad;
  for (auto& [name, param] : BaseStateDict(*model)) {
    const std::string path = weight_map.empty() ? single : weight_map.count(name) ? weight_map[name] : "";
    if (path.empty()) {
      return absl::NotFoundError(absl::StrCat(dir, ": tensor \"", name,
                                              "\" is not in model.safetensors.index.json"));
    }
    auto& file = open_files[path];
    if (!file) {
      LIBRA_ASSIGN_OR_RETURN(SafetensorsFile opened, SafetensorsFile::Open(path));
      file = std::make_unique<SafetensorsFile>(std::move(opened));
    }
    const TensorInfo* info = file->Find(name);
    if (info == nullptr) {
      return absl::NotFoundError(absl::StrCat(path, ": missing tensor \"", name, "\""));
    }
    if (info->shape != param.sizes().vec()) {
      std::string hint;
      if (absl::StrContains(name, "embed_tokens") || absl::StrContains(name, "lm_head")) {
        hint = " (vocab_size in config.json does not match the checkpoint)";
      }
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor \"", name, "\": expected ", ShapeToString(param.sizes().vec()),
          ", got ", ShapeToString(info->shape), hint));
    }
    LIBRA_ASSIGN_OR_RETURN(Tensor values, file->ReadFloat(name));
    param.copy_(ToTorch(values));
  }
  model->to(device);
  return model;
}

absl::Status SaveCheckpoint(CausalLMImpl& model, const std::string& dir, DType dtype) {
  mkdir(dir.c_str(), 0755);
  SafetensorsWriter writer;
  writer.SetMetadata("format", "pt");
  for (const auto& [name, param] : BaseStateDict(model)) {
    LIBRA_RETURN_IF_ERROR(writer.Add(name, ToCore(param), dtype));
  }
  LIBRA_RETURN_IF_ERROR(writer.WriteAtomically(dir + "/model.safetensors"));
  return WriteFileAtomically(dir + "/config.json", ModelConfigToJson(model.config()) + "\n");
}

}  // namespace libra::nn
