#include "src/core/library/manifest.h"

#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/library/expert_name.h"

namespace libra {

const char* AdapterTypeName(AdapterType type) {
  switch (type) {
    case AdapterType::kLora:
      return "lora";
    case AdapterType::kSparse:
      return "sparse";
    case AdapterType::kDelta:
      return "delta";
  }
  return "unknown";
}

absl::StatusOr<AdapterType> ParseAdapterType(absl::string_view name) {
  if (name == "lora") return AdapterType::kLora;
  if (name == "sparse") return AdapterType::kSparse;
  if (name == "delta") return AdapterType::kDelta;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown adapter type \"", name, "\"; expected lora, sparse or delta"));
}

int32_t LoraParams::RankOf(const std::string& module) const {
  auto it = module_rank.find(module);
  return it == module_rank.end() ? rank : it->second;
}

double LoraParams::AlphaOf(const std::string& module) const {
  auto it = module_alpha.find(module);
  return it == module_alpha.end() ? alpha : it->second;
}

double LoraParams::ScaleOf(const std::string& module, int64_t module_rank_value) const {
  if (module_rank_value <= 0) return 0;
  const double r = static_cast<double>(module_rank_value);
  return AlphaOf(module) / (use_rslora ? std::sqrt(r) : r);
}

const ExpertRecord* Manifest::Find(absl::string_view expert) const {
  for (const ExpertRecord& record : experts) {
    if (record.name == expert) return &record;
  }
  return nullptr;
}

ExpertRecord* Manifest::Find(absl::string_view expert) {
  for (ExpertRecord& record : experts) {
    if (record.name == expert) return &record;
  }
  return nullptr;
}

absl::Status ValidateManifest(const Manifest& manifest, absl::string_view label) {
  auto bad = [&](const absl::Status& status) {
    return absl::DataLossError(absl::StrCat(status.message(), " (", label, ")"));
  };
  if (manifest.format_version > kManifestFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest format version ", manifest.format_version,
                     " is newer than this libra's (", kManifestFormatVersion, ") (", label, ")"));
  }
  for (const auto& [module, shape] : manifest.module_shapes) {
    if (shape.out_features <= 0 || shape.in_features <= 0) {
      return bad(absl::InvalidArgumentError(absl::StrCat(
          "module \"", module, "\": shape [", shape.out_features, ", ", shape.in_features,
          "] is not positive")));
    }
  }
  std::set<std::string> names;
  for (const ExpertRecord& expert : manifest.experts) {
    absl::Status status = ValidateExpertName(expert.name);
    if (!status.ok()) return bad(status);
    if (!names.insert(expert.name).second) {
      return bad(absl::InvalidArgumentError(
          absl::StrCat("expert \"", expert.name, "\" is listed twice")));
    }
    status = ValidateRelativeFileName(expert.file_name);
    if (!status.ok()) return bad(status);
    for (const auto& [kind, file] : expert.auxiliary_files) {
      status = ValidateExpertName(kind);
      if (!status.ok()) return bad(status);
      status = ValidateRelativeFileName(file.file_name);
      if (!status.ok()) return bad(status);
    }
  }
  return absl::OkStatus();
}

}  // namespace libra
