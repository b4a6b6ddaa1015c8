#include "src/core/lora/lora_modules.h"

#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
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

absl::Status ValidateLoraModules(const std::vector<LoraModule>& modules, absl::string_view label) {
  if (modules.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": no LoRA modules (lora_A/lora_B)"));
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    const LoraModule& m = modules[i];
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

absl::StatusOr<std::vector<LoraModule>> ReadLoraModules(const SafetensorsFile& file) {
  std::map<std::string, LoraModule> by_name;
  std::map<std::string, std::pair<bool, bool>> seen;  // module -> (has A, has B)
  for (const TensorInfo& info : file.tensors()) {
    std::string module;
    bool is_a = false;
    if (!ParseLoraTensorName(info.name, &module, &is_a)) continue;
    bool& has = is_a ? seen[module].first : seen[module].second;
    if (has) {
      return absl::InvalidArgumentError(absl::StrCat(file.label(), ": module \"", module,
                                                     "\" has two lora_", is_a ? "A" : "B",
                                                     " tensors (second: \"", info.name, "\")"));
    }
    has = true;
    LIBRA_ASSIGN_OR_RETURN(Tensor tensor, file.ReadFloat(info.name));
    LoraModule& entry = by_name[module];
    entry.name = module;
    (is_a ? entry.a : entry.b) = std::move(tensor);
  }
  std::vector<LoraModule> modules;
  modules.reserve(by_name.size());
  for (auto& [name, module] : by_name) {
    if (!seen[name].first || !seen[name].second) {
      return absl::InvalidArgumentError(absl::StrCat(file.label(), ": module \"", name,
                                                     "\" has lora_", seen[name].first ? "A" : "B",
                                                     " but no lora_",
                                                     seen[name].first ? "B" : "A"));
    }
    modules.push_back(std::move(module));
  }
  LIBRA_RETURN_IF_ERROR(ValidateLoraModules(modules, file.label()));
  return modules;
}

}  // namespace libra
