#include "src/core/arrow/expert_prototypes.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/core/arrow/prototype.h"
#include "src/core/status_macros.h"

namespace libra::arrow {
namespace {

constexpr absl::string_view kVectorsSuffix = ".prototypes";
constexpr absl::string_view kValuesSuffix = ".singular_values";

absl::StatusOr<SafetensorsWriter> BuildWriter(const ExpertPrototypes& prototypes) {
  SafetensorsWriter writer;
  for (const ModulePrototypes& m : prototypes.modules) {
    LIBRA_RETURN_IF_ERROR(writer.Add(absl::StrCat(m.module, kVectorsSuffix), m.vectors));
    LIBRA_RETURN_IF_ERROR(writer.Add(absl::StrCat(m.module, kValuesSuffix),
                                     Tensor({static_cast<int64_t>(m.values.size())}, m.values)));
  }
  writer.SetMetadata("format", kPrototypesFormat);
  writer.SetMetadata("version", "1");
  writer.SetMetadata("top_k", absl::StrCat(prototypes.top_k));
  writer.SetMetadata("scale", absl::StrFormat("%.9g", prototypes.scale));
  writer.SetMetadata("source_hash", prototypes.source_hash);
  return writer;
}

}  // namespace

const ModulePrototypes* ExpertPrototypes::Find(absl::string_view module) const {
  auto it = std::lower_bound(
      modules.begin(), modules.end(), module,
      [](const ModulePrototypes& m, absl::string_view name) { return m.module < name; });
  return it != modules.end() && it->module == module ? &*it : nullptr;
}

absl::StatusOr<ExpertPrototypes> ComputeExpertPrototypes(const std::vector<NamedLoraModule>& modules,
                                                         float scale, int top_k) {
  return ComputeExpertPrototypes(modules, std::vector<float>(modules.size(), scale), top_k);
}

absl::StatusOr<ExpertPrototypes> ComputeExpertPrototypes(const std::vector<NamedLoraModule>& modules,
                                                         absl::Span<const float> module_scales,
                                                         int top_k) {
  LIBRA_RETURN_IF_ERROR(ValidateLoraModules(modules, "arrow prototypes"));
  if (module_scales.size() != modules.size()) {
    return absl::InvalidArgumentError(absl::StrCat("arrow prototypes: ", module_scales.size(),
                                                   " scales for ", modules.size(), " modules"));
  }
  ExpertPrototypes result;
  result.top_k = top_k;
  result.scale = module_scales[0];
  result.modules.reserve(modules.size());
  for (size_t m = 0; m < modules.size(); ++m) {
    const NamedLoraModule& module = modules[m];
    LIBRA_ASSIGN_OR_RETURN(SingularTriplets triplets,
                           TopSingularTriplets(module.a, module.b, module_scales[m], top_k,
                                               module.name));
    result.modules.push_back({module.name, std::move(triplets.right), std::move(triplets.values)});
  }
  return result;
}

absl::StatusOr<std::string> SerializeExpertPrototypes(const ExpertPrototypes& prototypes) {
  LIBRA_ASSIGN_OR_RETURN(SafetensorsWriter writer, BuildWriter(prototypes));
  return writer.Serialize();
}

absl::Status WriteExpertPrototypes(const ExpertPrototypes& prototypes, const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(SafetensorsWriter writer, BuildWriter(prototypes));
  return writer.WriteAtomically(path);
}

absl::StatusOr<ExpertPrototypes> ReadExpertPrototypes(const SafetensorsFile& file) {
  const auto& meta = file.metadata();
  auto get = [&meta](const char* key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  if (get("format") != kPrototypesFormat) {
    return absl::InvalidArgumentError(absl::StrCat(file.label(), ": metadata format must be \"",
                                                   kPrototypesFormat, "\", got \"", get("format"),
                                                   "\""));
  }
  ExpertPrototypes result;
  result.source_hash = get("source_hash");
  if (!absl::SimpleAtoi(get("top_k"), &result.top_k) || result.top_k < 1 ||
      !absl::SimpleAtof(get("scale"), &result.scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.label(), ": bad metadata top_k \"", get("top_k"), "\" or scale \"",
                     get("scale"), "\""));
  }
  std::map<std::string, ModulePrototypes> by_module;
  for (const TensorInfo& info : file.tensors()) {
    absl::string_view name = info.name;
    if (absl::ConsumeSuffix(&name, kVectorsSuffix)) {
      LIBRA_ASSIGN_OR_RETURN(by_module[std::string(name)].vectors, file.ReadFloat(info.name));
    } else if (absl::ConsumeSuffix(&name, kValuesSuffix)) {
      LIBRA_ASSIGN_OR_RETURN(Tensor values, file.ReadFloat(info.name));
      by_module[std::string(name)].values = std::move(values.values());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(file.label(), ": unexpected tensor \"", info.name, "\""));
    }
  }
  for (auto& [module, entry] : by_module) {
    entry.module = module;
    const Tensor& v = entry.vectors;
    if (v.rank() != 2 || v.dim(0) != result.top_k ||
        static_cast<int64_t>(entry.values.size()) != result.top_k) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.label(), ": module \"", module, "\": expected prototypes [", result.top_k,
          ", in] and singular_values [", result.top_k, "], got ", ShapeToString(v.shape()),
          " and [", entry.values.size(), "]"));
    }
    result.modules.push_back(std::move(entry));
  }
  return result;
}

absl::StatusOr<Tensor> StackPrototypes(absl::Span<const ExpertPrototypes* const> experts,
                                       absl::string_view module) {
  if (experts.empty()) return absl::InvalidArgumentError("StackPrototypes: no experts");
  std::vector<float> rows;
  int64_t dim = -1;
  for (size_t e = 0; e < experts.size(); ++e) {
    const ModulePrototypes* m = experts[e]->Find(module);
    if (m == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("expert ", e, " has no prototype for module \"", module, "\""));
    }
    const int64_t in = m->vectors.dim(1);
    if (dim >= 0 && in != dim) {
      return absl::InvalidArgumentError(absl::StrCat("module \"", module, "\": expert ", e,
                                                     " prototype has ", in, " inputs, expert 0 has ",
                                                     dim));
    }
    dim = in;
    rows.insert(rows.end(), m->vectors.data(), m->vectors.data() + in);
  }
  return Tensor({static_cast<int64_t>(experts.size()), dim}, std::move(rows));
}

}  // namespace libra::arrow
