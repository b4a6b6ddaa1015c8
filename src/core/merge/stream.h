// Streaming merge of expert files: one module at a time is loaded, merged,
// written and freed, so peak memory is about one module's inputs plus its
// output, not the model. Everything that can be checked without arithmetic
// (module sets, shapes, mode, rank, parameters) is checked before the output
// file is created; the output is written through a temporary file and
// renamed on success, so a failed merge leaves nothing behind.
//
//   StreamMergeRequest request;
//   request.method = *FindMethod("ties");
//   request.params = params;  // from BindParams
//   request.experts = {{"a", "a.safetensors"}, {"b", "b.safetensors"}};
//   request.out_path = "merged.safetensors";
//   LIBRA_ASSIGN_OR_RETURN(StreamMergeReport report, MergeExpertFiles(request));
#ifndef LIBRA_CORE_MERGE_STREAM_H_
#define LIBRA_CORE_MERGE_STREAM_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/merge/expert_file.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/method.h"
#include "src/core/tensor.h"

namespace libra::merge {

struct ExpertSource {
  std::string name;  // shown in errors and recorded as a source
  std::string path;  // safetensors file (expert_file.h layout) or PEFT folder
  std::optional<LoraScaling> scaling;  // e.g. from a library record; else the file's
};

struct StreamMergeRequest {
  const MethodSpec* method = nullptr;
  MergeParams params;
  MergeOptions options;
  std::vector<ExpertSource> experts;
  std::string out_path;
  DType out_dtype = DType::kF32;  // F32, F16 or BF16
  std::map<std::string, std::string> metadata;  // added to the output's
};

struct StreamMergeReport {
  int64_t modules = 0;
  int64_t bytes_written = 0;     // tensor data, excluding the header
  int64_t peak_module_bytes = 0; // largest one module's inputs + output, in float32
  std::vector<std::string> warnings;
  bool lora_output = false;      // every module came out as a LoRA (ab, svd)
  // "lora", "delta" or "sparse" when every module (bare tensors such as
  // biases aside) came out as that kind, else "mixed".
  std::string adapter_type;
};

// Merges `experts` module by module into request.out_path. The output
// records the merge in its metadata: merge_method, merge_mode,
// merge_parameters (JSON) and merge_sources (comma-separated names).
absl::StatusOr<StreamMergeReport> MergeExpertFiles(const StreamMergeRequest& request);

// The merge_parameters JSON for `params` (also used by the library manifest).
std::string ParametersJson(const MethodSpec& method, const MergeParams& params,
                           const MergeOptions& options);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_STREAM_H_
