#include "src/core/merge/expert_file.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

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
      {".sparse_values", Role::kSparseValues}, {".sparse_indices", Role::kSparseIndices},
      {".sparse_shape", Role::kSparseShape}, {".delta", Role::kDense},
  };
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

absl::StatusOr<ExpertFile> ExpertFile::Open(const std::string& path) {
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  return FromFile(*std::move(file));
}

absl::StatusOr<ExpertFile> ExpertFile::FromFile(SafetensorsFile file) {
  ExpertFile expert(std::move(file));
  if (absl::Status status = expert.Index(); !status.ok()) return status;
  return expert;
}

absl::Status ExpertFile::Index() {
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
  const auto& metadata = file_.metadata();
  for (const auto& [module, roles] : grouped) {
    ModuleEntry entry;
    entry.name = module;
    const bool lora = roles.count(Role::kLoraA) || roles.count(Role::kLoraB);
    const bool sparse = roles.count(Role::kSparseValues) || roles.count(Role::kSparseIndices) ||
                        roles.count(Role::kSparseShape);
    if (lora + sparse + static_cast<bool>(roles.count(Role::kDense)) != 1 ||
        (lora && roles.size() != 2) || (sparse && roles.size() != 3)) {
      return error(module, "needs exactly lora_A + lora_B, sparse_values + sparse_indices + "
                           "sparse_shape, or one dense delta");
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
      if (!NumElements(entry.delta_shape).ok()) return error(module, "invalid sparse_shape");
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
  // Scale metadata must parse if present, so a typo is not a silent 1.0.
  for (const char* key : {"lora_scale", "lora_alpha"}) {
    double value;
    if (auto it = metadata.find(key); it != metadata.end() && !absl::SimpleAtod(it->second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata \"", key, "\": \"", it->second, "\" is not a number (", label, ")"));
    }
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
      const auto& metadata = file_.metadata();
      double scale = 1.0;
      if (auto it = metadata.find("lora_scale"); it != metadata.end()) {
        (void)absl::SimpleAtod(it->second, &scale);
      } else if (auto alpha = metadata.find("lora_alpha"); alpha != metadata.end()) {
        (void)absl::SimpleAtod(alpha->second, &scale);
        auto rslora = metadata.find("use_rslora");
        const bool rs = rslora != metadata.end() && rslora->second == "true";
        scale /= rs ? std::sqrt(static_cast<double>(module.rank)) : module.rank;
      }
      delta.lora = {*std::move(a), *std::move(b), static_cast<float>(scale)};
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
