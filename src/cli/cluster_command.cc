// `libra cluster`: MBC, model-based clustering of a library's LoRA experts
// by their parameters (src/core/cluster/mbc.h).
//
//   libra cluster DIR --k K [--sparsity-quantile 0.8] [--embedding-dims 64]
//                 [--restarts 10] [--seed S] [--json]
//
// DIR is an expert library (DIR/library.pb: its LoRA experts, in manifest
// order) or a plain folder of <expert>.safetensors files (sorted by name).
// Prints one line per cluster and stores the result, with the similarity
// matrix and every setting, in DIR/aux/clusters/mbc-k<K>.json (atomically).
// --json prints that same document. Non-LoRA experts are skipped and listed.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/expert_folder.h"
#include "src/core/cluster/mbc_files.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"
#include "src/core/lora/lora_modules.h"

ABSL_FLAG(double, sparsity_quantile, 0.8,
          "MBC: zero each expert's entries with |value| at or below this quantile of its own "
          "|values|; 0 keeps all.");
ABSL_FLAG(int, embedding_dims, 64, "MBC: truncated SVD dimensions (at most the number of experts).");
ABSL_FLAG(int, restarts, 10, "k-means restarts (k-means++ seeding each).");

namespace libra::cli {
namespace {

bool HasLoraTensors(const std::string& path) {
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  if (!file.ok()) return true;  // let the clustering report the bad file
  for (const TensorInfo& info : file->tensors()) {
    std::string module;
    bool is_a;
    if (ParseLoraTensorName(info.name, &module, &is_a)) return true;
  }
  return false;
}

// The experts to cluster: names and file paths, and the skipped ones.
absl::Status CollectExperts(const std::string& dir, std::vector<std::string>* names,
                            std::vector<std::string>* paths, std::vector<std::string>* skipped) {
  if (access(absl::StrCat(dir, "/", kManifestFileName).c_str(), F_OK) == 0) {
    absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(dir);
    if (!library.ok()) return library.status();
    for (const ExpertRecord& record : library->List()) {
      if (record.type == AdapterType::kLora) {
        names->push_back(record.name);
        paths->push_back(library->PathOf(record.file_name));
      } else {
        skipped->push_back(record.name);
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<FolderExpert>> experts = ListFolderExperts(dir);
  if (!experts.ok()) return experts.status();
  for (const FolderExpert& expert : *experts) {
    if (HasLoraTensors(expert.path)) {
      names->push_back(expert.name);
      paths->push_back(expert.path);
    } else {
      skipped->push_back(expert.name);
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunCluster(const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("expected one library folder: libra cluster DIR --k K");
  const std::string& dir = args[0];
  cluster::MbcOptions options;
  options.k = absl::GetFlag(FLAGS_k);
  options.sparsity_quantile = absl::GetFlag(FLAGS_sparsity_quantile);
  options.embedding_dims = absl::GetFlag(FLAGS_embedding_dims);
  options.restarts = absl::GetFlag(FLAGS_restarts);
  options.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  if (options.k < 1) return UsageError("--k K (number of clusters, >= 1) is required");
  if (!(options.sparsity_quantile >= 0.0 && options.sparsity_quantile < 1.0)) {
    return UsageError(
        absl::StrCat("--sparsity-quantile must be in [0, 1), got ", options.sparsity_quantile));
  }
  if (options.embedding_dims < 1 || options.restarts < 1) {
    return UsageError("--embedding-dims and --restarts must be >= 1");
  }

  std::vector<std::string> names, paths, skipped;
  if (absl::Status s = CollectExperts(dir, &names, &paths, &skipped); !s.ok()) {
    return ReportError(s);
  }
  if (options.k > static_cast<int>(names.size())) {
    return UsageError(absl::StrCat("--k ", options.k, " exceeds the ", names.size(),
                                   " LoRA experts in ", dir));
  }
  absl::StatusOr<cluster::MbcResult> result = cluster::ClusterLoraFiles(paths, options);
  if (!result.ok()) return ReportError(result.status());

  const int64_t n = static_cast<int64_t>(names.size());
  std::vector<std::vector<std::string>> clusters(options.k);
  for (int64_t e = 0; e < n; ++e) clusters[result->assignment[e]].push_back(names[e]);
  nlohmann::json similarity = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> row(result->similarity.data() + i * n, result->similarity.data() + (i + 1) * n);
    similarity.push_back(row);
  }
  const nlohmann::json document = {
      {"method", "mbc"},
      {"k", options.k},
      {"sparsity_quantile", options.sparsity_quantile},
      {"embedding_dims", std::min<int64_t>(options.embedding_dims, n)},
      {"restarts", options.restarts},
      {"seed", options.seed},
      {"experts", names},
      {"assignment", result->assignment},
      {"clusters", clusters},
      {"inertia", result->inertia},
      {"similarity", similarity},
      {"skipped", skipped},
  };
  if (absl::Status s = MakeAuxiliaryFolder(dir, "clusters"); !s.ok()) return ReportError(s);
  const std::string out = absl::StrCat(dir, "/aux/clusters/mbc-k", options.k, ".json");
  if (absl::Status s = WriteFileAtomically(out, document.dump(1) + "\n"); !s.ok()) {
    return ReportError(s);
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", document.dump().c_str());
    return kExitOk;
  }
  for (int c = 0; c < options.k; ++c) {
    std::printf("cluster %d (%zu): %s\n", c, clusters[c].size(),
                absl::StrJoin(clusters[c], ", ").c_str());
  }
  if (!skipped.empty()) std::printf("skipped (not LoRA): %s\n", absl::StrJoin(skipped, ", ").c_str());
  std::printf("inertia %.6g; written to %s\n", result->inertia, out.c_str());
  return kExitOk;
}

}  // namespace libra::cli
