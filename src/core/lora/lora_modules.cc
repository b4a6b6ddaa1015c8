#include "src/core/lora/lora_modules.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

constexpr absl::string_view kPeftPrefix = "base_model.model.";

}  // namespace

bool ParseLoraTensorName(absl::string_view tensor_name, std::string* module, bool* is_a) {
  static constexpr struct {
    absl::string_view suffix;
    bool is_a;
  } kSuffixes[] = {{".lora_A.weight", true},
                   {".lora_B.weight", false},
                   {".lora_A", true},
                   {".lora_B", false}};
  for (const auto& entry : kSuffixes) {
    if (absl::EndsWith(tensor_name, entry.suffix) && tensor_name.size() > entry.suffix.size()) {
      absl::string_view path = tensor_name.substr(0, tensor_name.size() - entry.suffix.size());
      absl::ConsumePrefix(&path, kPeftPrefix);
      *module = std::string(path);
      *is_a = entry.is_a;
      return !module->empty();
    }
  }
  return false;
}

absl::Status ValidateLoraModules(const std::vector<NamedLoraModule>& modules, absl::string_view label) {
  if (modules.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": no LoRA modules (lora_A/lora_B)"));
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    const NamedLoraModule& m = modules[i];
    if (i > 0 && !(modules[i - 1].name < m.name)) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": modules not sorted or repeated at \"",
                                                     m.name, "\""));
    }
    if (m.a.rank() != 2 || m.b.rank() != 2 || m.a.dim(0) < 1 || m.a.dim(0) != m.b.dim(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          label, ": module \"", m.name, "\": expected lora_A [r, in] and lora_B [out, r], got ",
          ShapeToString(m.a.shape()), " and ", ShapeToString(m.b.shape())));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LoraModuleInfo>> IndexLoraModules(const SafetensorsFile& file) {
  std::map<std::string, LoraModuleInfo> by_name;
  for (const TensorInfo& info : file.tensors()) {
    std::string module;
    bool is_a = false;
    if (!ParseLoraTensorName(info.name, &module, &is_a)) continue;
    LoraModuleInfo& entry = by_name[module];
    entry.name = module;
    std::string& tensor = is_a ? entry.a_tensor : entry.b_tensor;
    if (!tensor.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(file.label(), ": module \"", module,
                                                     "\" has two lora_", is_a ? "A" : "B",
                                                     " tensors (\"", tensor, "\" and \"",
                                                     info.name, "\")"));
    }
    tensor = info.name;
    (is_a ? entry.a_shape : entry.b_shape) = info.shape;
  }
  std::vector<LoraModuleInfo> modules;
  for (auto& [name, entry] : by_name) {
    if (entry.a_tensor.empty() || entry.b_tensor.empty()) {
      const bool has_a = !entry.a_tensor.empty();
      return absl::InvalidArgumentError(absl::StrCat(file.label(), ": module \"", name,
                                                     "\" has lora_", has_a ? "A" : "B",
                                                     " but no lora_", has_a ? "B" : "A"));
    }
    const Shape& a = entry.a_shape;
    const Shape& b = entry.b_shape;
    if (a.size() != 2 || b.size() != 2 || a[0] < 1 || a[0] != b[1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.label(), ": module \"", name, "\": expected lora_A [r, in] and lora_B [out, r], got ",
          ShapeToString(a), " and ", ShapeToString(b)));
    }
    modules.push_back(std::move(entry));
  }
  if (modules.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(file.label(), ": no LoRA modules (lora_A/lora_B)"));
  }
  return modules;
}

absl::StatusOr<NamedLoraModule> ReadLoraModule(const SafetensorsFile& file, const LoraModuleInfo& info) {
  NamedLoraModule module;
  module.name = info.name;
  LIBRA_ASSIGN_OR_RETURN(module.a, file.ReadFloat(info.a_tensor));
  LIBRA_ASSIGN_OR_RETURN(module.b, file.ReadFloat(info.b_tensor));
  return module;
}

absl::StatusOr<std::vector<NamedLoraModule>> ReadLoraModules(const SafetensorsFile& file) {
  LIBRA_ASSIGN_OR_RETURN(std::vector<LoraModuleInfo> infos, IndexLoraModules(file));
  std::vector<NamedLoraModule> modules;
  modules.reserve(infos.size());
  for (const LoraModuleInfo& info : infos) {
    LIBRA_ASSIGN_OR_RETURN(NamedLoraModule module, ReadLoraModule(file, info));
    modules.push_back(std::move(module));
  }
  return modules;
}

absl::StatusOr<float> LoraScaleFromMetadata(const std::map<std::string, std::string>& metadata,
                                            int64_t rank, absl::string_view label) {
  auto number = [&](const char* key, double* value) -> absl::Status {
    auto it = metadata.find(key);
    if (!absl::SimpleAtod(it->second, value) || !std::isfinite(*value)) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": metadata \"", key, "\": \"",
                                                     it->second, "\" is not a number"));
    }
    return absl::OkStatus();
  };
  double scale = 1.0;
  if (metadata.count("lora_scale")) {
    LIBRA_RETURN_IF_ERROR(number("lora_scale", &scale));
  } else if (metadata.count("lora_alpha")) {
    LIBRA_RETURN_IF_ERROR(number("lora_alpha", &scale));
    auto rs = metadata.find("use_rslora");
    const bool rslora = rs != metadata.end() && rs->second == "true";
    scale /= rslora ? std::sqrt(static_cast<double>(rank)) : static_cast<double>(rank);
  }
  return static_cast<float>(scale);
}

}  // namespace libra
