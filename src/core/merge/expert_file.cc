#include "src/core/merge/expert_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"

namespace libra::merge {
namespace {

using Kind = ModuleDelta::Kind;

// Role of a tensor inside its module, from its name's suffix.
enum class Role { kLoraA, kLoraB, kSparseValues, kSparseIndices, kSparseShape, kDense };

struct Parsed {
  std::string module;
  Role role;
};

Parsed ParseName(absl::string_view name) {
  struct Suffix {
    const char* text;
    Role role;
  };
  static constexpr Suffix kSuffixes[] = {
      {".lora_A.weight", Role::kLoraA},      {".lora_B.weight", Role::kLoraB},
      {".lora_A", Role::kLoraA},             {".lora_B", Role::kLoraB},
      {".sparse.values", Role::kSparseValues}, {".sparse.indices", Role::kSparseIndices},
      {".sparse.shape", Role::kSparseShape}, {".delta.weight", Role::kDense},
  };
  // PEFT's "base_model.model." prefix is dropped: modules are keyed by the
  // model's own path, as in src/core/lora, so PEFT and plain files line up.
  absl::ConsumePrefix(&name, "base_model.model.");
  for (const Suffix& suffix : kSuffixes) {
    absl::string_view stem = name;
    if (absl::ConsumeSuffix(&stem, suffix.text) && !stem.empty()) {
      return {std::string(stem), suffix.role};
    }
  }
  return {std::string(name), Role::kDense};
}

bool IsFloat(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 ||
         dtype == DType::kF64;
}

}  // namespace

std::string LoraATensorName(const std::string& module) { return module + ".lora_A.weight"; }
std::string LoraBTensorName(const std::string& module) { return module + ".lora_B.weight"; }
std::string DenseDeltaTensorName(const std::string& module) { return module + ".delta.weight"; }

double LoraScaling::ScaleFor(const std::string& module, int64_t rank) const {
  if (scale_of) return scale_of(module, rank);
  if (scale) return *scale;
  std::optional<double> module_alpha = alpha;
  for (const auto& [key, value] : alpha_pattern) {
    if (module == key || absl::EndsWith(module, "." + key)) module_alpha = value;
  }
  if (!module_alpha) return 1.0;
  return *module_alpha / (rslora ? std::sqrt(static_cast<double>(rank)) : static_cast<double>(rank));
}

namespace {

absl::StatusOr<LoraScaling> ScalingFromMetadata(const std::map<std::string, std::string>& metadata,
                                                const std::string& label) {
  LoraScaling scaling;
  for (const char* key : {"lora_scale", "lora_alpha"}) {
    auto it = metadata.find(key);
    if (it == metadata.end()) continue;
    double value;
    if (!absl::SimpleAtod(it->second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata \"", key, "\": \"", it->second, "\" is not a number (", label, ")"));
    }
    (std::string(key) == "lora_scale" ? scaling.scale : scaling.alpha) = value;
  }
  auto rslora = metadata.find("use_rslora");
  scaling.rslora = rslora != metadata.end() && rslora->second == "true";
  return scaling;
}

// PEFT's adapter_config.json: lora_alpha, use_rslora, alpha_pattern.
absl::StatusOr<LoraScaling> ScalingFromPeftConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, kMaxConfigFileBytes);
  if (!text.ok()) return text.status();
  const nlohmann::json config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("not a JSON object (", path, ")"));
  }
  // value() throws on a peft_type of another type: look at it first.
  const nlohmann::json peft_type = config.value("peft_type", nlohmann::json("LORA"));
  if (peft_type != "LORA") {
    return absl::InvalidArgumentError(absl::StrCat("peft_type ", peft_type.dump(), " is not LORA (", path, ")"));
  }
  LoraScaling scaling;
  const nlohmann::json alpha = config.value("lora_alpha", nlohmann::json(8));  // PEFT's default
  if (!alpha.is_number()) {
    return absl::InvalidArgumentError(absl::StrCat("lora_alpha is not a number (", path, ")"));
  }
  scaling.alpha = alpha.get<double>();
  const nlohmann::json rslora = config.value("use_rslora", nlohmann::json(false));
  scaling.rslora = rslora.is_boolean() && rslora.get<bool>();
  if (config.contains("alpha_pattern") && config["alpha_pattern"].is_object()) {
    for (const auto& [key, value] : config["alpha_pattern"].items()) {
      if (!value.is_number()) {
        return absl::InvalidArgumentError(
            absl::StrCat("alpha_pattern \"", key, "\" is not a number (", path, ")"));
      }
      scaling.alpha_pattern[key] = value.get<double>();
    }
  }
  return scaling;
}

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

absl::StatusOr<ExpertFile> ExpertFile::Open(const std::string& path, const LoraScaling* scaling) {
  const std::string file_path = IsDirectory(path) ? path + "/adapter_model.safetensors" : path;
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(file_path);
  if (!file.ok()) return file.status();
  if (scaling != nullptr) return FromFile(*std::move(file), scaling);
  const std::string config_path =
      file_path.substr(0, file_path.find_last_of('/') + 1) + "adapter_config.json";
  if (absl::EndsWith(file_path, "adapter_model.safetensors") && ReadFile(config_path).ok()) {
    absl::StatusOr<LoraScaling> scaling = ScalingFromPeftConfig(config_path);
    if (!scaling.ok()) return scaling.status();
    return FromFile(*std::move(file), &*scaling);
  }
  return FromFile(*std::move(file));
}

absl::StatusOr<ExpertFile> ExpertFile::FromFile(SafetensorsFile file, const LoraScaling* scaling) {
  ExpertFile expert(std::move(file));
  LoraScaling own;
  if (scaling == nullptr) {
    absl::StatusOr<LoraScaling> from_metadata =
        ScalingFromMetadata(expert.file_.metadata(), expert.file_.label());
    if (!from_metadata.ok()) return from_metadata.status();
    own = *from_metadata;
    scaling = &own;
  }
  if (absl::Status status = expert.Index(*scaling); !status.ok()) return status;
  return expert;
}

absl::Status ExpertFile::Index(const LoraScaling& scaling) {
  const std::string& label = file_.label();
  std::map<std::string, std::map<Role, const TensorInfo*>> grouped;
  for (const TensorInfo& info : file_.tensors()) {
    const Parsed parsed = ParseName(info.name);
    const bool wants_integer =
        parsed.role == Role::kSparseIndices || parsed.role == Role::kSparseShape;
    if (IsFloat(info.dtype) == wants_integer) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", info.name, "\": dtype ",
                                                     DTypeName(info.dtype), " does not fit its role (",
                                                     label, ")"));
    }
    grouped[parsed.module][parsed.role] = &info;
  }
  auto error = [&](const std::string& module, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("module \"", module, "\": ", what, " (", label, ")"));
  };
  for (const auto& [module, roles] : grouped) {
    ModuleEntry entry;
    entry.name = module;
    const bool lora = roles.count(Role::kLoraA) || roles.count(Role::kLoraB);
    const bool sparse = roles.count(Role::kSparseValues) || roles.count(Role::kSparseIndices) ||
                        roles.count(Role::kSparseShape);
    if (lora + sparse + static_cast<bool>(roles.count(Role::kDense)) != 1 ||
        (lora && roles.size() != 2) || (sparse && roles.size() != 3)) {
      return error(module, "needs exactly lora_A + lora_B, sparse.values + sparse.indices + "
                           "sparse.shape, or one dense delta");
    }
    if (lora) {
      const TensorInfo& a = *roles.at(Role::kLoraA);
      const TensorInfo& b = *roles.at(Role::kLoraB);
      if (a.shape.size() != 2 || b.shape.size() != 2 || a.shape[0] < 1 || b.shape[1] != a.shape[0]) {
        return error(module, absl::StrCat("LoRA A ", ShapeToString(a.shape), " and B ",
                                          ShapeToString(b.shape), " are not [r, in] and [out, r]"));
      }
      entry.kind = Kind::kLora;
      entry.rank = a.shape[0];
      entry.scale = static_cast<float>(scaling.ScaleFor(module, entry.rank));
      entry.delta_shape = {b.shape[0], a.shape[1]};
      entry.tensors = {a.name, b.name};
    } else if (sparse) {
      const TensorInfo& values = *roles.at(Role::kSparseValues);
      const TensorInfo& indices = *roles.at(Role::kSparseIndices);
      const TensorInfo& shape = *roles.at(Role::kSparseShape);
      if (values.shape.size() != 1 || indices.shape != values.shape || shape.shape.size() != 1) {
        return error(module, absl::StrCat("sparse values ", ShapeToString(values.shape),
                                          ", indices ", ShapeToString(indices.shape),
                                          " and shape ", ShapeToString(shape.shape),
                                          " are not [nnz], [nnz] and [rank]"));
      }
      absl::StatusOr<Int64Tensor> dims = file_.ReadInt64(shape.name);
      if (!dims.ok()) return dims.status();
      entry.kind = Kind::kSparse;
      entry.delta_shape = dims->values;
      if (!NumElements(entry.delta_shape).ok()) return error(module, "invalid sparse.shape");
      entry.nnz = values.shape[0];
      entry.tensors = {values.name, indices.name, shape.name};
    } else {
      const TensorInfo& dense = *roles.at(Role::kDense);
      entry.kind = Kind::kDense;
      entry.delta_shape = dense.shape;
      entry.tensors = {dense.name};
    }
    modules_.push_back(std::move(entry));
  }
  return absl::OkStatus();
}

const ModuleEntry* ExpertFile::Find(const std::string& module) const {
  auto it = std::lower_bound(modules_.begin(), modules_.end(), module,
                             [](const ModuleEntry& e, const std::string& name) { return e.name < name; });
  return it != modules_.end() && it->name == module ? &*it : nullptr;
}

absl::StatusOr<ModuleDelta> ExpertFile::Load(const ModuleEntry& module) const {
  ModuleDelta delta;
  delta.kind = module.kind;
  switch (module.kind) {
    case Kind::kLora: {
      absl::StatusOr<Tensor> a = file_.ReadFloat(module.tensors[0]);
      if (!a.ok()) return a.status();
      absl::StatusOr<Tensor> b = file_.ReadFloat(module.tensors[1]);
      if (!b.ok()) return b.status();
      delta.lora = {*std::move(a), *std::move(b), module.scale};
      break;
    }
    case Kind::kSparse: {
      absl::StatusOr<Tensor> values = file_.ReadFloat(module.tensors[0]);
      if (!values.ok()) return values.status();
      absl::StatusOr<std::vector<int64_t>> indices = LoadIndices(module);
      if (!indices.ok()) return indices.status();
      delta.sparse = {module.delta_shape, *std::move(indices), std::move(values->values())};
      break;
    }
    case Kind::kDense: {
      absl::StatusOr<Tensor> dense = file_.ReadFloat(module.tensors[0]);
      if (!dense.ok()) return dense.status();
      delta.dense = *std::move(dense);
      break;
    }
  }
  // Each module is read once per merge: keep the mapped pages out of memory.
  file_.ReleasePages();
  return delta;
}

absl::StatusOr<std::vector<int64_t>> ExpertFile::LoadIndices(const ModuleEntry& module) const {
  absl::StatusOr<Int64Tensor> indices = file_.ReadInt64(module.tensors[1]);
  if (!indices.ok()) return indices.status();
  file_.ReleasePages();
  return std::move(indices->values);
}

}  // namespace libra::merge
