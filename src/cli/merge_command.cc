// `libra merge`: merges experts by any registered method, streaming one
// module at a time (src/core/merge/stream.h).
//
//   libra merge DIR --experts a,b,c --method ties --density 0.3 --out-file m.safetensors
//   libra merge DIR --all --method uniform --mode svd --rank 16 --out-peft peft/
//   libra merge --files a.safetensors,b.safetensors --method linear --weights 1,2 --out-file m.safetensors
//   libra merge DIR --config merge.yaml --out merged
//
// DIR is an expert library (DIR/library.pb: names, files and LoRA scales
// come from its manifest, and --out NAME adds the merge as a new expert whose
// record carries method, parameters, sources and weights), or else a plain
// folder of <name>.safetensors files (--out NAME writes DIR/NAME.safetensors,
// provenance in its metadata). Bad arguments exit 2 before anything is read;
// failures exit 1 and leave no output behind.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/expert_folder.h"
#include "src/cli/merge_config.h"
#include "src/core/io/atomic_file.h"
#include "src/core/library/expert_library.h"
#include "src/core/library/expert_name.h"
#include "src/core/merge/expert_file.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/peft_export.h"
#include "src/core/merge/registry.h"
#include "src/core/merge/stream.h"

ABSL_FLAG(std::vector<std::string>, files, {},
          "Expert safetensors files or PEFT adapter folders to merge (instead of DIR and --experts).");
ABSL_FLAG(std::vector<std::string>, density, {},
          "Fraction of entries kept, in (0, 1]: one value, or one per expert.");
ABSL_FLAG(std::optional<double>, lambda, std::nullopt, "Scale of the merged task vector.");
ABSL_FLAG(std::optional<double>, beta, std::nullopt,
          "breadcrumbs: fraction of the largest entries dropped.");
ABSL_FLAG(bool, normalize, false, "Divide the weights by their sum.");
ABSL_FLAG(std::string, out_file, "", "Write the merge to this safetensors file.");
ABSL_FLAG(std::string, out_peft, "",
          "Export the merged LoRA (--mode ab or svd) as a PEFT adapter folder.");
ABSL_DECLARE_FLAG(int, threads);

namespace libra::cli {
namespace {

struct Plan {
  std::optional<ExpertLibrary> library;  // DIR holds library.pb
  const merge::MethodSpec* method = nullptr;
  merge::MergeArguments args;
  merge::MergeOptions options;
  std::vector<merge::ExpertSource> experts;
  DType dtype = DType::kF32;
  std::vector<std::string> warnings;
};

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

// "dir/a.safetensors" -> "a"; a PEFT folder "dir/math/" -> "math".
std::string Stem(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.rfind(".safetensors");
  return dot == std::string::npos ? name : name.substr(0, dot);
}

absl::StatusOr<std::vector<double>> Numbers(const std::vector<std::string>& texts,
                                            const char* flag) {
  std::vector<double> values;
  for (const std::string& text : texts) {
    double value;
    if (!absl::SimpleAtod(text, &value)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", text, "\" is not a number"));
    }
    values.push_back(value);
  }
  return values;
}

// Method, parameters, mode and expert list from the flags or the YAML config.
absl::StatusOr<Plan> BuildPlan(const std::vector<std::string>& args) {
  Plan plan;
  const std::string dir = args.empty() ? "" : args[0];
  if (args.size() > 1) return absl::InvalidArgumentError("expected at most one library folder");
  std::string method = absl::GetFlag(FLAGS_method);
  std::string mode = absl::GetFlag(FLAGS_mode);
  int64_t rank = absl::GetFlag(FLAGS_rank);
  std::vector<std::string> names = absl::GetFlag(FLAGS_experts);
  std::vector<std::string> paths = absl::GetFlag(FLAGS_files);
  if (const std::string config_path = absl::GetFlag(FLAGS_config); !config_path.empty()) {
    if (!method.empty() || !names.empty() || !paths.empty() || absl::GetFlag(FLAGS_all) ||
        !absl::GetFlag(FLAGS_weights).empty() || !absl::GetFlag(FLAGS_density).empty()) {
      return absl::InvalidArgumentError(
          "--config replaces --method, --experts, --all, --files, --weights and --density");
    }
    absl::StatusOr<std::string> text = ReadFile(config_path, kMaxConfigFileBytes);
    if (!text.ok()) return text.status();
    absl::StatusOr<MergeConfig> config = ParseMergeConfig(*text, config_path);
    if (!config.ok()) return config.status();
    method = config->method;
    mode = config->mode;
    rank = config->rank != 0 ? config->rank : rank;
    plan.args = config->args;
    plan.dtype = config->dtype;
    plan.warnings = config->warnings;
    const std::string base = config_path.substr(0, config_path.find_last_of('/') + 1);
    for (const std::string& model : config->models) {
      if (absl::EndsWith(model, ".safetensors")) {
        paths.push_back(model[0] == '/' ? model : base + model);
      } else {
        names.push_back(model);
      }
    }
  }
  if (method.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--method is required (known: ", merge::KnownMethodNames(), ")"));
  }
  absl::StatusOr<const merge::MethodSpec*> spec = merge::FindMethod(method);
  if (!spec.ok()) return spec.status();
  plan.method = *spec;
  absl::StatusOr<merge::LoraMode> lora_mode = merge::ParseLoraMode(mode);
  if (!lora_mode.ok()) return lora_mode.status();
  plan.options = {*lora_mode, rank};

  if (!dir.empty() && Exists(absl::StrCat(dir, "/", kManifestFileName))) {
    absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(dir);
    if (!library.ok()) return library.status();
    plan.library.emplace(*std::move(library));
  }
  if (absl::GetFlag(FLAGS_all)) {
    if (dir.empty() || !names.empty()) {
      return absl::InvalidArgumentError("--all needs DIR and no --experts");
    }
    if (plan.library) {
      for (const ExpertRecord& record : plan.library->List()) names.push_back(record.name);
    } else {
      absl::StatusOr<std::vector<FolderExpert>> all = ListFolderExperts(dir);
      if (!all.ok()) return all.status();
      for (const FolderExpert& expert : *all) names.push_back(expert.name);
    }
  }
  if (!names.empty() && dir.empty()) {
    return absl::InvalidArgumentError("expert names need the library folder DIR");
  }
  for (const std::string& name : names) {
    if (!plan.library) {
      plan.experts.push_back({name, dir + "/" + name + ".safetensors", std::nullopt});
      continue;
    }
    absl::StatusOr<ExpertRecord> record = plan.library->Show(name);
    if (!record.ok()) return record.status();
    merge::LoraScaling scaling;  // the record's alpha, rank and rsLoRA, per module
    scaling.scale_of = [lora = record->lora](const std::string& module, int64_t rank) {
      return lora.ScaleOf(module, rank);
    };
    plan.experts.push_back({name, plan.library->PathOf(record->file_name), scaling});
  }
  for (const std::string& path : paths) plan.experts.push_back({Stem(path), path, std::nullopt});
  if (plan.experts.empty()) {
    return absl::InvalidArgumentError("no experts: give DIR with --experts or --all, or --files");
  }

  // Flags fill in what the config did not set.
  if (!absl::GetFlag(FLAGS_weights).empty()) {
    absl::StatusOr<std::vector<double>> weights = Numbers(absl::GetFlag(FLAGS_weights), "weights");
    if (!weights.ok()) return weights.status();
    plan.args.per_expert["weight"] = *weights;
  }
  if (!absl::GetFlag(FLAGS_density).empty()) {
    absl::StatusOr<std::vector<double>> density = Numbers(absl::GetFlag(FLAGS_density), "density");
    if (!density.ok()) return density.status();
    if (density->size() == 1) {
      plan.args.scalars["density"] = (*density)[0];
    } else {
      plan.args.per_expert["density"] = *density;
    }
  }
  if (absl::GetFlag(FLAGS_lambda)) plan.args.scalars["lambda"] = *absl::GetFlag(FLAGS_lambda);
  if (absl::GetFlag(FLAGS_beta)) plan.args.scalars["beta"] = *absl::GetFlag(FLAGS_beta);
  if (absl::GetFlag(FLAGS_normalize)) plan.args.scalars["normalize"] = 1.0;
  for (const merge::ParamSpec& param : plan.method->params) {
    if (std::string(param.name) == "seed" && !plan.args.scalars.count("seed")) {
      plan.args.scalars["seed"] = static_cast<double>(absl::GetFlag(FLAGS_seed));
    }
  }
  return plan;
}

// Adds the merged file at `path` to `library` as expert `name`, recording
// how it was made. Merged LoRAs have scale 1: alpha = rank, per module.
absl::Status AddToLibrary(const Plan& plan, const merge::MergeParams& params,
                          const std::string& name, const std::string& path,
                          ExpertLibrary* library) {
  absl::StatusOr<merge::ExpertFile> merged = merge::ExpertFile::Open(path);
  if (!merged.ok()) return merged.status();
  std::string type = "mixed";
  bool any_lora = false, any_sparse = false, any_delta = false;
  ExpertRecord record;
  record.name = name;
  for (const merge::ModuleEntry& module : merged->modules()) {
    if (module.kind == merge::ModuleDelta::Kind::kLora) {
      any_lora = true;
      record.lora.module_alpha[module.name] = static_cast<double>(module.rank);
    } else if (module.kind == merge::ModuleDelta::Kind::kSparse) {
      any_sparse = true;
    } else if (!absl::EndsWith(module.name, ".bias")) {
      any_delta = true;
    }
  }
  if (any_lora + any_sparse + any_delta != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the merge mixes LoRA, sparse and dense modules; a library expert has one type (",
        path, ")"));
  }
  record.type = any_lora ? AdapterType::kLora : any_sparse ? AdapterType::kSparse : AdapterType::kDelta;
  MergeInfo info;
  info.method = plan.method->name;
  const nlohmann::json parameters =
      nlohmann::json::parse(merge::ParametersJson(*plan.method, params, plan.options));
  for (const auto& [key, value] : parameters.items()) {
    info.parameters[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  for (const merge::ExpertSource& source : plan.experts) {
    info.source_experts.push_back(source.name);
    if (absl::StatusOr<ExpertRecord> source_record = library->Show(source.name); source_record.ok()) {
      for (const std::string& task : source_record->tasks) {
        if (std::find(record.tasks.begin(), record.tasks.end(), task) == record.tasks.end()) {
          record.tasks.push_back(task);
        }
      }
    }
  }
  info.source_weights = params.weights;
  record.merge = std::move(info);
  absl::StatusOr<ExpertRecord> added = library->AddFile(std::move(record), path);
  return added.status();
}

}  // namespace

int RunMerge(const std::vector<std::string>& args) {
  absl::StatusOr<Plan> plan = BuildPlan(args);
  if (!plan.ok()) return ReportError(plan.status(), kExitUsage);
  absl::StatusOr<merge::MergeParams> params =
      merge::BindParams(*plan->method, plan->args, static_cast<int>(plan->experts.size()));
  if (!params.ok()) return ReportError(params.status(), kExitUsage);
  if (absl::Status status = merge::CheckMode(*plan->method, plan->options); !status.ok()) {
    return ReportError(status, kExitUsage);
  }
  const int threads = absl::GetFlag(FLAGS_threads);
  params->threads = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());

  const std::string name = absl::GetFlag(FLAGS_out);
  const std::string out_file = absl::GetFlag(FLAGS_out_file);
  const std::string out_peft = absl::GetFlag(FLAGS_out_peft);
  if (!name.empty() + !out_file.empty() + !out_peft.empty() != 1) {
    return UsageError("give exactly one of --out NAME, --out-file F.safetensors, --out-peft DIR");
  }
  if (!out_peft.empty() && plan->options.mode == merge::LoraMode::kDelta) {
    return UsageError("--out-peft needs a LoRA result: use --mode ab, or --mode svd --rank R");
  }
  std::string target = out_file;
  if (!name.empty()) {
    if (args.empty()) return UsageError("--out NAME needs the library folder DIR");
    if (absl::Status status = ValidateExpertName(name); !status.ok()) {
      return ReportError(status, kExitUsage);
    }
    target = args[0] + "/" + name + ".safetensors";
    if (plan->library ? plan->library->Show(name).ok() : Exists(target)) {
      return ReportError(absl::AlreadyExistsError(
          absl::StrCat("expert \"", name, "\" already exists (", args[0], ")")));
    }
    // A library takes the file through AddFile: merge to a hidden temporary.
    if (plan->library) target = absl::StrCat(args[0], "/.", name, ".libra-merge-", getpid(), ".safetensors");
  }
  if (!out_peft.empty()) {
    // Merged beside the folder first, so a failed merge leaves nothing behind.
    std::string folder = out_peft;
    while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
    target = absl::StrCat(folder, ".libra-merge-", getpid(), ".safetensors");
  }
  for (const std::string& warning : plan->warnings) {
    std::fprintf(stderr, "libra: warning: %s\n", warning.c_str());
  }

  merge::StreamMergeRequest request;
  request.method = plan->method;
  request.params = *params;
  request.options = plan->options;
  request.experts = plan->experts;
  request.out_path = target;
  request.out_dtype = plan->dtype;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<merge::StreamMergeReport> report = merge::MergeExpertFiles(request);
  if (report.ok() && !out_peft.empty()) {
    absl::Status status =
        merge::ExportMergedLoraAsPeft(target, out_peft, absl::GetFlag(FLAGS_base));
    unlink(target.c_str());
    if (!status.ok()) return ReportError(status);
    target = out_peft;
  }
  if (!report.ok()) return ReportError(report.status());
  if (!name.empty() && plan->library) {
    absl::Status status = AddToLibrary(*plan, *params, name, target, &*plan->library);
    unlink(target.c_str());
    if (!status.ok()) return ReportError(status);
    target = plan->library->PathOf(name + ".safetensors");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& warning : report->warnings) {
    std::fprintf(stderr, "libra: warning: %s\n", warning.c_str());
  }
  std::vector<std::string> sources;
  for (const merge::ExpertSource& expert : plan->experts) sources.push_back(expert.name);
  if (absl::GetFlag(FLAGS_json)) {
    const nlohmann::json json = {
        {"method", plan->method->name},
        {"mode", merge::LoraModeName(plan->options.mode)},
        {"parameters", nlohmann::json::parse(
                           merge::ParametersJson(*plan->method, *params, plan->options))},
        {"sources", sources},
        {"modules", report->modules},
        {"bytes_written", report->bytes_written},
        {"seconds", seconds},
        {"output", target},
    };
    std::printf("%s\n", json.dump().c_str());
  } else {
    std::printf("merged %zu experts (%s, mode %s): %lld modules, %.1f MB in %.2f s -> %s\n",
                sources.size(), plan->method->name, merge::LoraModeName(plan->options.mode),
                static_cast<long long>(report->modules), report->bytes_written / 1e6, seconds,
                target.c_str());
  }
  return kExitOk;
}

}  // namespace libra::cli
