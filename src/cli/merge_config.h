// mergekit-style YAML for `libra merge --config merge.yaml`:
//
//   merge_method: ties
//   models:
//     - model: arithmetic          # expert name, or a path ending in .safetensors
//       parameters: {weight: 1.0, density: 0.3}
//     - model: algebra
//       parameters: {weight: 0.5, density: 0.5}
//   parameters: {lambda: 0.8}      # method-wide parameters
//   dtype: bfloat16                # optional: float32 (default), float16, bfloat16
//   mode: svd                      # libra extension: delta (default), ab, svd
//   rank: 16                       # libra extension: rank for mode svd
//
// `base_model` is accepted and ignored with a warning (libra merges task
// vectors). Parameter names and values are checked later by BindParams.
#ifndef LIBRA_CLI_MERGE_CONFIG_H_
#define LIBRA_CLI_MERGE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/merge/method.h"
#include "src/core/tensor.h"

namespace libra::cli {

struct MergeConfig {
  std::string method;
  std::vector<std::string> models;
  merge::MergeArguments args;
  std::string mode = "delta";
  int64_t rank = 0;
  DType dtype = DType::kF32;
  std::vector<std::string> warnings;
};

// `label` (the file name) is quoted in errors.
absl::StatusOr<MergeConfig> ParseMergeConfig(const std::string& yaml, const std::string& label);

}  // namespace libra::cli

#endif  // LIBRA_CLI_MERGE_CONFIG_H_
