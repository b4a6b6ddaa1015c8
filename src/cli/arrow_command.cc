// `libra arrow`: computes the Arrow prototypes of every LoRA expert in a
// library that lacks them or whose tensor file changed since.
//
//   libra arrow DIR [--top-k K] [--json]
//
// In an expert library (DIR/library.pb) the prototypes become each expert's
// auxiliary file "arrow" (DIR/aux/arrow/<expert>.safetensors, referenced
// from the manifest; src/core/arrow/library_prototypes.h), with the
// manifest's LoRA scales. In a plain folder of <expert>.safetensors files
// they go to DIR/aux/arrow/<expert>.safetensors too, scales from file metadata.
// Either way they are tagged with the sha256 of the expert's file, and a
// later run recomputes only experts whose file hash or K differ. Non-LoRA
// experts are listed as skipped. Writes are atomic; a failure on one expert
// stops the run with it named and leaves other experts' files intact.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/expert_folder.h"
#include "src/core/arrow/library_prototypes.h"
#include "src/core/arrow/prototype_cache.h"
#include "src/core/library/expert_library.h"

namespace libra::cli {
namespace {

// Library mode: every expert's outcome, in manifest order.
absl::StatusOr<std::vector<arrow::LibraryRefresh>> RefreshLibrary(const std::string& dir,
                                                                  int top_k) {
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(dir);
  if (!library.ok()) return library.status();
  return arrow::RefreshLibraryPrototypes(*library, top_k);
}

// Folder mode (no manifest): DIR/<expert>.safetensors -> DIR/aux/arrow/<expert>.safetensors.
absl::StatusOr<std::vector<arrow::LibraryRefresh>> RefreshFolder(const std::string& dir,
                                                                 int top_k) {
  absl::StatusOr<std::vector<FolderExpert>> experts = ListFolderExperts(dir);
  if (!experts.ok()) return experts.status();
  if (absl::Status s = MakeAuxiliaryFolder(dir, "arrow"); !s.ok()) return s;
  std::vector<arrow::LibraryRefresh> done;
  for (const FolderExpert& expert : *experts) {
    absl::StatusOr<std::string> hash = arrow::FileFingerprint(expert.path);
    if (!hash.ok()) return hash.status();
    absl::StatusOr<arrow::RefreshResult> result = arrow::RefreshPrototypes(
        expert.path, AuxiliaryPath(dir, "arrow", expert.name), *hash, top_k);
    if (!result.ok()) {
      return absl::Status(result.status().code(), absl::StrCat("expert \"", expert.name, "\": ",
                                                               result.status().message()));
    }
    done.push_back({expert.name, result->outcome, result->modules});
  }
  return done;
}

}  // namespace

int RunArrow(const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("expected one library folder: libra arrow DIR");
  const std::string& dir = args[0];
  const int top_k = absl::GetFlag(FLAGS_top_k) == 0 ? 1 : absl::GetFlag(FLAGS_top_k);
  if (top_k < 1) return UsageError(absl::StrCat("--top-k must be >= 1, got ", top_k));
  const bool is_library = access(absl::StrCat(dir, "/", kManifestFileName).c_str(), F_OK) == 0;
  absl::StatusOr<std::vector<arrow::LibraryRefresh>> results =
      is_library ? RefreshLibrary(dir, top_k) : RefreshFolder(dir, top_k);
  if (!results.ok()) return ReportError(results.status());

  const bool json = absl::GetFlag(FLAGS_json);
  nlohmann::json report = {{"computed", nlohmann::json::array()},
                           {"up_to_date", nlohmann::json::array()},
                           {"skipped", nlohmann::json::array()}};
  for (const arrow::LibraryRefresh& result : *results) {
    const char* key = "computed";
    const char* text = "computed";
    switch (result.outcome) {
      case arrow::RefreshOutcome::kComputed:
        break;
      case arrow::RefreshOutcome::kUpToDate:
        key = "up_to_date";
        text = "up to date";
        break;
      case arrow::RefreshOutcome::kNotLora:
        key = "skipped";
        text = "skipped (not a LoRA expert)";
        break;
    }
    report[key].push_back(result.expert);
    if (!json) {
      std::printf("%s: %s", result.expert.c_str(), text);
      if (result.outcome != arrow::RefreshOutcome::kNotLora) {
        std::printf(" (%d modules, top %d)", result.modules, top_k);
      }
      std::printf("\n");
    }
  }
  if (json) std::printf("%s\n", report.dump().c_str());
  return kExitOk;
}

}  // namespace libra::cli
