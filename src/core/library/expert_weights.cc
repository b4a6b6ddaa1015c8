#include "src/core/library/expert_weights.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

constexpr char kLoraA[] = ".lora_A.weight";
constexpr char kLoraB[] = ".lora_B.weight";
constexpr char kDelta[] = ".delta.weight";
constexpr char kSparseIndices[] = ".sparse.indices";
constexpr char kSparseValues[] = ".sparse.values";
constexpr char kSparseShape[] = ".sparse.shape";
constexpr char kBias[] = ".bias";

enum class Part { kLoraA, kLoraB, kDelta, kSparseIndices, kSparseValues, kSparseShape, kBias };

struct ModuleParts {
  std::map<Part, const TensorInfo*> tensors;
};

bool IsFloat(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kF64;
}

absl::Status TensorError(const SafetensorsFile& file, const std::string& tensor, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tensor \"", tensor, "\": ", what, " (", file.label(), ")"));
}

bool SplitName(absl::string_view name, std::string* module, Part* part) {
  static const std::pair<const char*, Part> kSuffixes[] = {
      {kLoraA, Part::kLoraA},         {kLoraB, Part::kLoraB},
      {kDelta, Part::kDelta},         {kSparseIndices, Part::kSparseIndices},
      {kSparseValues, Part::kSparseValues}, {kSparseShape, Part::kSparseShape},
      {kBias, Part::kBias}};
  for (const auto& [suffix, which] : kSuffixes) {
    absl::string_view stem = name;
    if (absl::ConsumeSuffix(&stem, suffix) && !stem.empty()) {
      *module = std::string(stem);
      *part = which;
      return true;
    }
  }
  return false;
}

AdapterType TypeOf(Part part) {
  switch (part) {
    case Part::kLoraA:
    case Part::kLoraB:
      return AdapterType::kLora;
    case Part::kDelta:
      return AdapterType::kDelta;
    default:
      return AdapterType::kSparse;
  }
}

}  // namespace

std::string LoraATensorName(const std::string& module) { return module + kLoraA; }
std::string LoraBTensorName(const std::string& module) { return module + kLoraB; }
std::string DeltaTensorName(const std::string& module) { return module + kDelta; }

absl::StatusOr<AdapterType> InferAdapterType(const SafetensorsFile& file) {
  std::set<AdapterType> types;
  for (const TensorInfo& info : file.tensors()) {
    std::string module;
    Part part;
    if (SplitName(info.name, &module, &part) && part != Part::kBias) types.insert(TypeOf(part));
  }
  if (types.size() == 1) return *types.begin();
  return absl::InvalidArgumentError(absl::StrCat(
      types.empty() ? "no tensor is named as a LoRA, sparse or delta expert's"
                    : "tensor names of several expert types",
      ": the file does not say its type; give --type lora|sparse|delta (", file.label(), ")"));
}

absl::StatusOr<ExpertLayout> InspectExpertFile(const SafetensorsFile& file, AdapterType type) {
  ExpertLayout layout;
  layout.type = type;
  std::map<std::string, ModuleParts> modules;
  for (const TensorInfo& info : file.tensors()) {
    std::string module;
    Part part;
    if (!SplitName(info.name, &module, &part)) {
      return TensorError(file, info.name,
                         "name is not <module>.lora_A.weight, .lora_B.weight, .delta.weight, "
                         ".sparse.indices/.values/.shape or .bias");
    }
    if (part == Part::kBias ? type == AdapterType::kLora : TypeOf(part) != type) {
      return TensorError(file, info.name, absl::StrCat("does not belong in a ", AdapterTypeName(type), " expert"));
    }
    const bool want_int = part == Part::kSparseIndices || part == Part::kSparseShape;
    if (want_int ? info.dtype != DType::kI64 : !IsFloat(info.dtype)) {
      return TensorError(file, info.name,
                         absl::StrCat("dtype ", DTypeName(info.dtype), " is not ", want_int ? "I64" : "a float type"));
    }
    if (!want_int) {
      const std::string dtype = DTypeName(info.dtype);
      if (layout.dtype.empty()) layout.dtype = dtype;
      if (layout.dtype != dtype) layout.dtype = "mixed";
      layout.num_parameters += NumElements(info.shape).value_or(0);
    }
    modules[module].tensors[part] = &info;
  }
  if (modules.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("expert file holds no tensors (", file.label(), ")"));
  }
  for (const auto& entry : modules) {
    // Named, not a structured binding: lambdas cannot capture those in C++17.
    const std::string& module = entry.first;
    const auto& parts = entry.second;
    auto get = [&](Part part) -> const TensorInfo* {
      auto it = parts.tensors.find(part);
      return it == parts.tensors.end() ? nullptr : it->second;
    };
    auto missing = [&](const char* suffix) {
      return TensorError(file, module + suffix, "missing (its module has other tensors)");
    };
    ModuleLayout& out = layout.modules[module];
    if (type == AdapterType::kLora) {
      const TensorInfo* a = get(Part::kLoraA);
      const TensorInfo* b = get(Part::kLoraB);
      if (a == nullptr) return missing(kLoraA);
      if (b == nullptr) return missing(kLoraB);
      if (a->shape.size() != 2 || a->shape[0] <= 0 || a->shape[1] <= 0) {
        return TensorError(file, a->name, absl::StrCat("expected [r, in] with r, in > 0, got ", ShapeToString(a->shape)));
      }
      if (b->shape.size() != 2 || b->shape[0] <= 0 || b->shape[1] != a->shape[0]) {
        return TensorError(file, b->name,
                           absl::StrCat("expected [out, ", a->shape[0], "] (rank of lora_A), got ",
                                        ShapeToString(b->shape)));
      }
      out.rank = a->shape[0];
      out.shape = ModuleShape{b->shape[0], a->shape[1]};
    } else if (type == AdapterType::kDelta) {
      const TensorInfo* delta = get(Part::kDelta);
      if (delta == nullptr) return missing(kDelta);
      if (delta->shape.size() != 2 || delta->shape[0] <= 0 || delta->shape[1] <= 0) {
        return TensorError(file, delta->name, absl::StrCat("expected [out, in], got ", ShapeToString(delta->shape)));
      }
      out.shape = ModuleShape{delta->shape[0], delta->shape[1]};
    } else {
      const TensorInfo* indices = get(Part::kSparseIndices);
      const TensorInfo* values = get(Part::kSparseValues);
      const TensorInfo* shape = get(Part::kSparseShape);
      if (indices == nullptr) return missing(kSparseIndices);
      if (values == nullptr) return missing(kSparseValues);
      if (shape == nullptr) return missing(kSparseShape);
      if (shape->shape != Shape{2}) {
        return TensorError(file, shape->name, absl::StrCat("expected [2], got ", ShapeToString(shape->shape)));
      }
      LIBRA_ASSIGN_OR_RETURN(Int64Tensor dense_shape, file.ReadInt64(shape->name));
      if (dense_shape.values[0] <= 0 || dense_shape.values[1] <= 0 ||
          dense_shape.values[0] > (int64_t{1} << 31) || dense_shape.values[1] > (int64_t{1} << 31)) {
        return TensorError(file, shape->name,
                           absl::StrCat("dense shape [", dense_shape.values[0], ", ", dense_shape.values[1],
                                        "] is not positive"));
      }
      out.shape = ModuleShape{dense_shape.values[0], dense_shape.values[1]};
      if (indices->shape.size() != 1) {
        return TensorError(file, indices->name, absl::StrCat("expected [nnz], got ", ShapeToString(indices->shape)));
      }
      if (values->shape != indices->shape) {
        return TensorError(file, values->name,
                           absl::StrCat("expected ", ShapeToString(indices->shape), " like its indices, got ",
                                        ShapeToString(values->shape)));
      }
      LIBRA_ASSIGN_OR_RETURN(Int64Tensor flat, file.ReadInt64(indices->name));
      const int64_t limit = out.shape.out_features * out.shape.in_features;
      for (size_t i = 0; i < flat.values.size(); ++i) {
        if (flat.values[i] < 0 || flat.values[i] >= limit) {
          return TensorError(file, indices->name,
                             absl::StrCat("index ", flat.values[i], " at ", i, " is outside [0, ", limit, ")"));
        }
        if (i > 0 && flat.values[i] <= flat.values[i - 1]) {
          return TensorError(file, indices->name, absl::StrCat("not strictly increasing at ", i));
        }
      }
      out.nnz = static_cast<int64_t>(flat.values.size());
    }
    if (const TensorInfo* bias = get(Part::kBias)) {
      if (bias->shape != Shape{out.shape.out_features}) {
        return TensorError(file, bias->name,
                           absl::StrCat("expected [", out.shape.out_features, "], got ", ShapeToString(bias->shape)));
      }
    }
  }
  return layout;
}

absl::StatusOr<ExpertWeights> LoadExpertWeights(const SafetensorsFile& file, const ExpertRecord& record) {
  LIBRA_ASSIGN_OR_RETURN(ExpertLayout layout, InspectExpertFile(file, record.type));
  ExpertWeights weights;
  weights.type = record.type;
  for (const auto& [module, info] : layout.modules) {
    if (record.type == AdapterType::kLora) {
      LoraModule& lora = weights.lora[module];
      LIBRA_ASSIGN_OR_RETURN(lora.a, file.ReadFloat(LoraATensorName(module)));
      LIBRA_ASSIGN_OR_RETURN(lora.b, file.ReadFloat(LoraBTensorName(module)));
      lora.alpha = record.lora.AlphaOf(module);
      lora.scale = record.lora.ScaleOf(module, info.rank);
    } else if (record.type == AdapterType::kDelta) {
      LIBRA_ASSIGN_OR_RETURN(weights.delta[module], file.ReadFloat(DeltaTensorName(module)));
    } else {
      SparseModule& sparse = weights.sparse[module];
      LIBRA_ASSIGN_OR_RETURN(Int64Tensor indices, file.ReadInt64(module + kSparseIndices));
      sparse.indices = std::move(indices.values);
      LIBRA_ASSIGN_OR_RETURN(sparse.values, file.ReadFloat(module + kSparseValues));
      sparse.shape = info.shape;
    }
    if (file.Find(module + kBias) != nullptr) {
      LIBRA_ASSIGN_OR_RETURN(weights.bias[module], file.ReadFloat(module + kBias));
    }
  }
  return weights;
}

absl::Status AddExpertWeights(const ExpertWeights& weights, DType dtype, SafetensorsWriter* writer) {
  for (const auto& [module, lora] : weights.lora) {
    LIBRA_RETURN_IF_ERROR(writer->Add(LoraATensorName(module), lora.a, dtype));
    LIBRA_RETURN_IF_ERROR(writer->Add(LoraBTensorName(module), lora.b, dtype));
  }
  for (const auto& [module, delta] : weights.delta) {
    LIBRA_RETURN_IF_ERROR(writer->Add(DeltaTensorName(module), delta, dtype));
  }
  for (const auto& [module, sparse] : weights.sparse) {
    const int64_t nnz = static_cast<int64_t>(sparse.indices.size());
    LIBRA_RETURN_IF_ERROR(writer->AddInt64(module + kSparseIndices, Int64Tensor{{nnz}, sparse.indices}));
    LIBRA_RETURN_IF_ERROR(writer->Add(module + kSparseValues, sparse.values, dtype));
    LIBRA_RETURN_IF_ERROR(writer->AddInt64(
        module + kSparseShape, Int64Tensor{{2}, {sparse.shape.out_features, sparse.shape.in_features}}));
  }
  for (const auto& [module, bias] : weights.bias) {
    LIBRA_RETURN_IF_ERROR(writer->Add(module + kBias, bias, dtype));
  }
  return absl::OkStatus();
}

}  // namespace libra
