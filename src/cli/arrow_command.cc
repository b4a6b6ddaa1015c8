// `libra arrow`: computes the Arrow prototypes of every LoRA expert in a
// library folder that lacks them or whose tensor file changed since.
//
//   libra arrow DIR [--top-k K] [--json]
//
// Prototypes go to DIR/arrow/<expert>.safetensors (src/core/arrow/
// expert_prototypes.h), tagged with the sha256 of the expert's file; a
// later run recomputes only experts whose file hash or K differ. Non-LoRA
// experts are listed as skipped. Writes are atomic; a failure on one expert
// stops the run with its file named and leaves other experts' files intact.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/expert_folder.h"
#include "src/core/arrow/prototype_cache.h"

namespace libra::cli {

int RunArrow(const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("expected one library folder: libra arrow DIR");
  const std::string& dir = args[0];
  const int top_k = absl::GetFlag(FLAGS_top_k);
  if (top_k < 1) return UsageError(absl::StrCat("--top-k must be >= 1, got ", top_k));
  absl::StatusOr<std::vector<FolderExpert>> experts = ListFolderExperts(dir);
  if (!experts.ok()) return ReportError(experts.status());
  if (absl::Status s = MakeAuxiliaryFolder(dir, "arrow"); !s.ok()) return ReportError(s);

  const bool json = absl::GetFlag(FLAGS_json);
  nlohmann::json report = {{"computed", nlohmann::json::array()},
                           {"up_to_date", nlohmann::json::array()},
                           {"skipped", nlohmann::json::array()}};
  for (const FolderExpert& expert : *experts) {
    absl::StatusOr<std::string> hash = arrow::FileFingerprint(expert.path);
    if (!hash.ok()) return ReportError(hash.status());
    absl::StatusOr<arrow::RefreshResult> result = arrow::RefreshPrototypes(
        expert.path, AuxiliaryPath(dir, "arrow", expert.name), *hash, top_k);
    if (!result.ok()) {
      return ReportError(absl::Status(result.status().code(),
                                      absl::StrCat("expert \"", expert.name, "\": ",
                                                   result.status().message())));
    }
    const char* key = "computed";
    const char* text = "computed";
    switch (result->outcome) {
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
    report[key].push_back(expert.name);
    if (!json) {
      std::printf("%s: %s", expert.name.c_str(), text);
      if (result->outcome != arrow::RefreshOutcome::kNotLora) {
        std::printf(" (%d modules, top %d)", result->modules, top_k);
      }
      std::printf("\n");
    }
  }
  if (json) std::printf("%s\n", report.dump().c_str());
  return kExitOk;
}

}  // namespace libra::cli
