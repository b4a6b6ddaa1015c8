#include "src/core/peft/peft_export.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <set>

#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/peft/peft_import.h"
#include "src/core/peft/peft_pattern.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

using Json = nlohmann::ordered_json;

Json Number(double value) {
  if (value == std::floor(value) && std::abs(value) < 1e15) return static_cast<int64_t>(value);
  return value;
}

// Matches exactly one of `known` (namely `module`) under both PEFT rules.
absl::StatusOr<bool> Unambiguous(const std::string& key, const std::string& module,
                                 const std::vector<std::string>& known, bool need_legacy) {
  for (const std::string& other : known) {
    for (PeftPatternStyle style : {PeftPatternStyle::kCurrent, PeftPatternStyle::kLegacy}) {
      if (style == PeftPatternStyle::kLegacy && !need_legacy) continue;
      LIBRA_ASSIGN_OR_RETURN(bool matches, PeftPatternMatches(key, other, style));
      if (matches != (other == module)) return false;
    }
  }
  return true;
}

// The module name without its first component works with both PEFT rules;
// the full name only with the current one.
absl::StatusOr<std::string> PatternKeyFor(const std::string& module, const std::vector<std::string>& known) {
  const size_t dot = module.find('.');
  if (dot != std::string::npos) {
    const std::string suffix = module.substr(dot + 1);
    LIBRA_ASSIGN_OR_RETURN(bool ok, Unambiguous(suffix, module, known, /*need_legacy=*/true));
    if (ok) return suffix;
  }
  LIBRA_ASSIGN_OR_RETURN(bool ok, Unambiguous(module, module, known, /*need_legacy=*/false));
  if (ok) return module;
  return absl::FailedPreconditionError(
      absl::StrCat("module \"", module, "\": no rank_pattern key selects it alone"));
}

}  // namespace

absl::StatusOr<nlohmann::ordered_json> PeftConfigFor(const ExpertRecord& record,
                                                     const std::vector<std::string>& modules,
                                                     const std::vector<std::string>& known_modules,
                                                     const std::string& base_model) {
  if (record.type != AdapterType::kLora) {
    return absl::FailedPreconditionError(absl::StrCat("expert \"", record.name, "\" is a ",
                                                      AdapterTypeName(record.type),
                                                      " expert; only LoRA experts export to PEFT"));
  }
  const bool from_peft = record.training_config.count("source") && record.training_config.at("source") == "peft";
  auto config_value = [&](const std::string& key, const std::string& fallback) {
    auto it = record.training_config.find("peft." + key);
    return it == record.training_config.end() ? fallback : it->second;
  };
  Json config;
  config["peft_type"] = "LORA";
  config["base_model_name_or_path"] = config_value("base_model_name_or_path", base_model);
  config["r"] = record.lora.rank;
  config["lora_alpha"] = Number(record.lora.alpha);
  double dropout = 0;
  if (!absl::SimpleAtod(config_value("lora_dropout", "0"), &dropout)) dropout = 0;
  config["lora_dropout"] = Number(dropout);
  if (from_peft && record.training_config.count("peft.target_modules_regex") && !record.target_modules.empty()) {
    config["target_modules"] = record.target_modules.front();
  } else if (from_peft && !record.target_modules.empty()) {
    config["target_modules"] = record.target_modules;
  } else {
    config["target_modules"] = modules;  // exact names: PEFT adapts these layers and no others
  }
  config["bias"] = "none";
  config["fan_in_fan_out"] = false;
  config["use_rslora"] = record.lora.use_rslora;
  config["use_dora"] = false;
  Json rank_pattern = Json::object();
  Json alpha_pattern = Json::object();
  std::set<std::string> module_set(modules.begin(), modules.end());
  std::vector<std::string> known = known_modules;
  for (const std::string& module : modules) {
    if (!std::count(known.begin(), known.end(), module)) known.push_back(module);
  }
  for (const auto& [module, rank] : record.lora.module_rank) {
    if (!module_set.count(module)) continue;
    LIBRA_ASSIGN_OR_RETURN(std::string key, PatternKeyFor(module, known));
    rank_pattern[key] = rank;
  }
  for (const auto& [module, alpha] : record.lora.module_alpha) {
    if (!module_set.count(module)) continue;
    LIBRA_ASSIGN_OR_RETURN(std::string key, PatternKeyFor(module, known));
    alpha_pattern[key] = Number(alpha);
  }
  config["rank_pattern"] = rank_pattern;
  config["alpha_pattern"] = alpha_pattern;
  config["modules_to_save"] = nullptr;
  config["task_type"] = config_value("task_type", "CAUSAL_LM");
  config["inference_mode"] = true;
  return config;
}

namespace {

// An export is written into a private folder beside its destination,
// .<name>.tmp-<pid>-export, and moved into place at the end, so that a
// killed export leaves no half adapter behind.
struct StagedFolder {
  std::string parent, staging;
};

StagedFolder StagingFor(const std::string& out_dir) {
  std::filesystem::path out(out_dir);
  while (!out.has_filename() && out.has_parent_path() && out != out.root_path()) out = out.parent_path();
  StagedFolder staged;
  staged.parent = out.has_parent_path() ? out.parent_path().string() : ".";
  if (staged.parent.empty()) staged.parent = ".";
  staged.staging = absl::StrCat(staged.parent, "/.", out.filename().string(), ".tmp-", getpid(), "-export");
  return staged;
}

// Like mkdir -p: every missing folder on the way.
absl::Status MakeFolders(const std::string& dir) {
  for (size_t slash = dir.find('/', 1); ; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("cannot create folder: ", std::strerror(errno), " (", prefix, ")"));
    }
    if (slash == std::string::npos) break;
  }
  return absl::OkStatus();
}

// Removes the staging folders of exports whose process no longer runs.
void SweepStagingFolders(const std::string& parent) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(parent, error)) {
    const std::string base = entry.path().filename().string();
    const size_t tmp = base.rfind(".tmp-");
    if (base.empty() || base[0] != '.' || tmp == std::string::npos || !absl::EndsWith(base, "-export")) continue;
    int pid = 0;
    const std::string rest = base.substr(tmp + 5);
    if (!absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) || pid <= 0) continue;
    if (kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), error);
  }
}

// One rename of the staging folder when the destination is missing or an
// empty folder. Into a folder that holds other files, the weights move in
// first and adapter_config.json last: PEFT and libra read the config first,
// and a folder without it is not an adapter.
absl::Status MoveIntoPlace(const StagedFolder& staged, const std::string& out_dir) {
  if (rename(staged.staging.c_str(), out_dir.c_str()) == 0) return absl::OkStatus();
  if (errno != ENOTEMPTY && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot move the adapter into place: ", std::strerror(errno), " (", out_dir, ")"));
  }
  for (const char* name : {kPeftWeightsFile, kPeftConfigFile}) {
    const std::string from = staged.staging + "/" + name, to = out_dir + "/" + name;
    if (rename(from.c_str(), to.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot move the adapter into place: ", std::strerror(errno), " (", to, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ExportPeftAdapter(const ExpertLibrary& library, absl::string_view expert, const std::string& out_dir) {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, library.Show(expert));
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, library.OpenExpertFile(expert));
  LIBRA_ASSIGN_OR_RETURN(ExpertLayout layout, InspectExpertFile(file, record.type));
  std::vector<std::string> modules;
  for (const auto& [module, info] : layout.modules) modules.push_back(module);
  std::vector<std::string> known;
  for (const auto& [module, shape] : library.manifest().module_shapes) known.push_back(module);
  LIBRA_ASSIGN_OR_RETURN(Json config, PeftConfigFor(record, modules, known, library.manifest().base_model));

  const std::string config_path = out_dir + "/" + kPeftConfigFile;
  const std::string weights_path = out_dir + "/" + kPeftWeightsFile;
  struct stat info;
  for (const std::string& path : {config_path, weights_path}) {
    if (stat(path.c_str(), &info) == 0) {
      return absl::AlreadyExistsError(absl::StrCat("an adapter is already there; choose another folder (", path, ")"));
    }
  }
  const StagedFolder staged = StagingFor(out_dir);
  LIBRA_RETURN_IF_ERROR(MakeFolders(staged.parent));
  SweepStagingFolders(staged.parent);
  if (mkdir(staged.staging.c_str(), 0755) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create folder: ", std::strerror(errno), " (", staged.staging, ")"));
  }
  absl::Status status = [&]() -> absl::Status {
    SafetensorsWriter writer;
    writer.SetMetadata("format", "pt");
    for (const TensorInfo& tensor : file.tensors()) {
      LIBRA_ASSIGN_OR_RETURN(Tensor values, file.ReadFloat(tensor.name));
      LIBRA_RETURN_IF_ERROR(writer.Add(kPeftKeyPrefix + tensor.name, values, tensor.dtype));
    }
    LIBRA_RETURN_IF_ERROR(writer.WriteAtomically(staged.staging + "/" + kPeftWeightsFile));
    LIBRA_RETURN_IF_ERROR(
        WriteFileAtomically(staged.staging + "/" + kPeftConfigFile, config.dump(2) + "\n"));
    return MoveIntoPlace(staged, out_dir);
  }();
  std::error_code ignored;
  std::filesystem::remove_all(staged.staging, ignored);
  return status;
}

}  // namespace libra
