// `libra library`: create, fill, list, inspect and check an expert library.
//
//   libra library create DIR --base phi-2 [--name flan]
//   libra library add DIR --name cola --peft adapters/cola [--task cola]
//   libra library add DIR --name s1 --tensors s1.safetensors --type sparse
//   libra library ls DIR [--json]
//   libra library show DIR NAME
//   libra library rm DIR NAME
//   libra library verify DIR [--check-finite]
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/core/library/expert_library.h"
#include "src/core/library/expert_name.h"
#include "src/core/library/manifest_json.h"
#include "src/core/peft/peft_import.h"

ABSL_FLAG(std::string, peft, "", "library add: a PEFT LoRA adapter folder to import.");
ABSL_FLAG(std::string, tensors, "", "library add: an expert safetensors file in library naming.");
ABSL_FLAG(bool, check_finite, false, "library verify: also reject NaN and Inf values.");

namespace libra::cli {
namespace {

constexpr char kUsage[] =
    "libra library create DIR --base NAME [--name LIBRARY] | add DIR --name N (--peft PEFT_DIR | "
    "--tensors FILE.safetensors [--type lora|sparse|delta]) [--task T ...] [--rank R] [--alpha A] "
    "[--use-rslora] [--keep-ratio K] | ls DIR [--json] | show DIR NAME | rm DIR NAME | "
    "verify DIR [--check-finite]";

std::string FormatTime(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

int Create(const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageError("usage: libra library create DIR --base NAME");
  const std::string base = absl::GetFlag(FLAGS_base);
  if (base.empty()) return UsageError("library create needs --base NAME");
  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = args[1].substr(args[1].find_last_of('/') + 1);
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(args[1], name, base);
  if (!library.ok()) return ReportError(library.status());
  std::printf("created library \"%s\" for %s in %s\n", name.c_str(), base.c_str(), args[1].c_str());
  return kExitOk;
}

int Add(const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageError("usage: libra library add DIR --name N --peft DIR | --tensors FILE [--type T]");
  const std::string name = absl::GetFlag(FLAGS_name);
  const std::string peft = absl::GetFlag(FLAGS_peft);
  const std::string tensors = absl::GetFlag(FLAGS_tensors);
  const std::string type_name = absl::GetFlag(FLAGS_type);
  if (name.empty()) return UsageError("library add needs --name N");
  if (absl::Status status = ValidateExpertName(name); !status.ok()) return ReportError(status, kExitUsage);
  if (peft.empty() == tensors.empty()) return UsageError("library add needs exactly one of --peft DIR and --tensors FILE");
  if (!peft.empty() && !type_name.empty() && type_name != "lora") {
    return UsageError("PEFT adapters are LoRA; drop --type or use --type lora");
  }
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(args[1]);
  if (!library.ok()) return ReportError(library.status());
  absl::StatusOr<ExpertRecord> added;
  if (!peft.empty()) {
    absl::StatusOr<PeftImport> adapter = ReadPeftAdapter(peft);
    if (!adapter.ok()) return ReportError(adapter.status());
    adapter->record.name = name;
    adapter->record.tasks = absl::GetFlag(FLAGS_task);
    adapter->record.training_config["imported_from"] = peft;
    added = library->Add(adapter->record, std::move(adapter->file_bytes));
  } else {
    // Without --type, the file's tensor names say it (as `libra train` writes them).
    absl::StatusOr<AdapterType> type;
    if (type_name.empty()) {
      absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(tensors);
      type = file.ok() ? InferAdapterType(*file) : file.status();
      if (!type.ok()) return ReportError(type.status());
    } else {
      type = ParseAdapterType(type_name);
      if (!type.ok()) return ReportError(type.status(), kExitUsage);
    }
    ExpertRecord record;
    record.name = name;
    record.type = *type;
    record.tasks = absl::GetFlag(FLAGS_task);
    record.lora.rank = absl::GetFlag(FLAGS_rank);
    record.lora.alpha = absl::GetFlag(FLAGS_alpha);
    record.lora.use_rslora = absl::GetFlag(FLAGS_use_rslora);
    record.sparse.keep_ratio = absl::GetFlag(FLAGS_keep_ratio);
    added = library->AddFile(record, tensors);
  }
  if (!added.ok()) return ReportError(added.status());
  std::printf("added %s expert \"%s\" (%lld parameters, %s, sha256 %s)\n", AdapterTypeName(added->type),
              added->name.c_str(), static_cast<long long>(added->num_parameters), added->dtype.c_str(),
              added->sha256.substr(0, 12).c_str());
  return kExitOk;
}

std::string Summary(const ExpertRecord& expert) {
  switch (expert.type) {
    case AdapterType::kLora:
      return absl::StrCat("r=", expert.lora.rank, expert.lora.module_rank.empty() ? "" : "*",
                          " alpha=", expert.lora.alpha, expert.lora.use_rslora ? " rslora" : "");
    case AdapterType::kSparse:
      return absl::StrCat("keep=", expert.sparse.keep_ratio);
    case AdapterType::kDelta:
      return "dense";
  }
  return "";
}

int List(const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageError("usage: libra library ls DIR [--json]");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(args[1]);
  if (!library.ok()) return ReportError(library.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ManifestToJson(library->manifest()).dump(2).c_str());
    return kExitOk;
  }
  const Manifest& manifest = library->manifest();
  std::printf("library \"%s\", base %s, %zu experts, %zu modules\n", manifest.name.c_str(),
              manifest.base_model.c_str(), manifest.experts.size(), manifest.module_shapes.size());
  if (manifest.experts.empty()) return kExitOk;
  std::printf("%-24s %-7s %-22s %-6s %12s  %-20s %s\n", "NAME", "TYPE", "PARAMS", "DTYPE", "VALUES", "CREATED", "TASKS");
  for (const ExpertRecord& expert : manifest.experts) {
    std::printf("%-24s %-7s %-22s %-6s %12lld  %-20s %s\n", expert.name.c_str(), AdapterTypeName(expert.type),
                Summary(expert).c_str(), expert.dtype.c_str(), static_cast<long long>(expert.num_parameters),
                FormatTime(expert.created_unix_ms).c_str(), absl::StrJoin(expert.tasks, ",").c_str());
  }
  return kExitOk;
}

int Show(const std::vector<std::string>& args) {
  if (args.size() != 3) return UsageError("usage: libra library show DIR NAME");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(args[1]);
  if (!library.ok()) return ReportError(library.status());
  absl::StatusOr<ExpertRecord> expert = library->Show(args[2]);
  if (!expert.ok()) return ReportError(expert.status());
  nlohmann::json json = ExpertToJson(*expert);
  if (!absl::GetFlag(FLAGS_json)) {
    // Human view adds the modules and their shapes from the file.
    absl::StatusOr<SafetensorsFile> file = library->OpenExpertFile(args[2]);
    if (!file.ok()) return ReportError(file.status());
    absl::StatusOr<ExpertLayout> layout = InspectExpertFile(*file, expert->type);
    if (!layout.ok()) return ReportError(layout.status());
    nlohmann::json modules = nlohmann::json::object();
    for (const auto& [module, info] : layout->modules) {
      nlohmann::json entry = {{"shape", {info.shape.out_features, info.shape.in_features}}};
      if (expert->type == AdapterType::kLora) {
        entry["rank"] = info.rank;
        entry["scale"] = expert->lora.ScaleOf(module, info.rank);
      }
      if (expert->type == AdapterType::kSparse) entry["nnz"] = info.nnz;
      modules[module] = entry;
    }
    json["modules"] = modules;
    json["created"] = FormatTime(expert->created_unix_ms);
  }
  std::printf("%s\n", json.dump(2).c_str());
  return kExitOk;
}

int Remove(const std::vector<std::string>& args) {
  if (args.size() != 3) return UsageError("usage: libra library rm DIR NAME");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(args[1]);
  if (!library.ok()) return ReportError(library.status());
  if (absl::Status status = library->Remove(args[2]); !status.ok()) return ReportError(status);
  std::printf("removed expert \"%s\"\n", args[2].c_str());
  return kExitOk;
}

int Verify(const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageError("usage: libra library verify DIR [--check-finite]");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(args[1]);
  if (!library.ok()) return ReportError(library.status());
  const VerifyReport report = library->Verify(absl::GetFlag(FLAGS_check_finite));
  for (const VerifyIssue& warning : report.warnings) {
    std::fprintf(stderr, "libra: warning: %s (%s)\n", warning.problem.c_str(), warning.file.c_str());
  }
  for (const VerifyIssue& problem : report.problems) {
    std::fprintf(stderr, "libra: error: expert \"%s\": %s (%s)\n", problem.expert.c_str(), problem.problem.c_str(),
                 problem.file.c_str());
  }
  std::printf("%d experts, %d files checked%s: %s\n", report.experts_checked, report.files_checked,
              absl::GetFlag(FLAGS_check_finite) ? " (finite values too)" : "",
              report.ok() ? "ok" : absl::StrCat(report.problems.size(), " problems").c_str());
  return report.ok() ? kExitOk : kExitFailure;
}

}  // namespace

int RunLibrary(const std::vector<std::string>& args) {
  if (args.empty()) return UsageError(absl::StrCat("usage: ", kUsage));
  const std::string& verb = args[0];
  if (verb == "create") return Create(args);
  if (verb == "add") return Add(args);
  if (verb == "ls" || verb == "list") return List(args);
  if (verb == "show") return Show(args);
  if (verb == "rm" || verb == "remove") return Remove(args);
  if (verb == "verify") return Verify(args);
  return UsageError(absl::StrCat("unknown library subcommand \"", verb, "\"; expected create, add, ls, show, rm or verify"));
}

}  // namespace libra::cli
