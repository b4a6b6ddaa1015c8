#include "src/core/cluster/mbc_files.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/core/io/safetensors.h"
#include "src/core/lora/lora_modules.h"
#include "src/core/status_macros.h"

namespace libra::cluster {

absl::StatusOr<MbcResult> ClusterLoraFiles(const std::vector<std::string>& paths,
                                           const MbcOptions& options) {
  const int64_t n = static_cast<int64_t>(paths.size());
  if (n == 0) return absl::InvalidArgumentError("MBC: no expert files");
  if (options.k < 1 || options.k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("MBC: k must be in [1, ", n, "] (the number of experts), got ", options.k));
  }
  std::vector<SafetensorsFile> files;
  std::vector<std::vector<LoraModuleInfo>> layouts;
  files.reserve(n);
  for (const std::string& path : paths) {
    LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
    LIBRA_ASSIGN_OR_RETURN(std::vector<LoraModuleInfo> layout, IndexLoraModules(file));
    if (!layouts.empty()) {
      const std::vector<LoraModuleInfo>& first = layouts[0];
      bool same = layout.size() == first.size();
      for (size_t m = 0; same && m < layout.size(); ++m) {
        same = layout[m].name == first[m].name && layout[m].a_shape == first[m].a_shape &&
               layout[m].b_shape == first[m].b_shape;
      }
      if (!same) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": LoRA modules or shapes differ from ", paths[0],
                         " (MBC needs experts of one architecture and rank)"));
      }
    }
    files.push_back(std::move(file));
    layouts.push_back(std::move(layout));
  }

  // Pass 1: each expert's own threshold over its whole flattened vector.
  std::vector<double> thresholds(n, -1.0);
  if (options.sparsity_quantile != 0.0) {
    for (int64_t e = 0; e < n; ++e) {
      std::vector<NamedLoraModule> modules;
      for (const LoraModuleInfo& info : layouts[e]) {
        LIBRA_ASSIGN_OR_RETURN(NamedLoraModule module, ReadLoraModule(files[e], info));
        modules.push_back(std::move(module));
      }
      LIBRA_ASSIGN_OR_RETURN(std::vector<float> flat, FlattenLora(modules));
      absl::StatusOr<double> threshold =
          SparsifyByQuantile(absl::MakeSpan(flat), options.sparsity_quantile);
      if (!threshold.ok()) {
        return absl::Status(threshold.status().code(),
                            absl::StrCat(threshold.status().message(), " (", paths[e], ")"));
      }
      thresholds[e] = *threshold;
    }
  }

  // Pass 2: module by module over all experts, in the flattening order.
  GramAccumulator gram(n);
  std::vector<std::vector<float>> chunk(n);
  std::vector<absl::Span<const float>> spans(n);
  for (size_t m = 0; m < layouts[0].size(); ++m) {
    for (int64_t e = 0; e < n; ++e) {
      LIBRA_ASSIGN_OR_RETURN(NamedLoraModule module, ReadLoraModule(files[e], layouts[e][m]));
      chunk[e] = std::move(module.a.values());
      chunk[e].insert(chunk[e].end(), module.b.values().begin(), module.b.values().end());
      ZeroAtOrBelow(absl::MakeSpan(chunk[e]), thresholds[e]);
      spans[e] = chunk[e];
    }
    LIBRA_RETURN_IF_ERROR(gram.Add(spans));
  }
  return ClusterFromGram(gram, options);
}

}  // namespace libra::cluster
