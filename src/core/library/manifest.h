// The expert library manifest as plain structs (mirrors src/proto/library.proto).
//
// Only manifest_io.cc converts these to and from protobuf bytes, so code
// built without libprotobuf (WebAssembly) uses the same structs through
// manifest_json.h.
//
//   Manifest manifest;
//   manifest.name = "flan";
//   manifest.base_model = "phi-2";
//   ExpertRecord& expert = manifest.experts.emplace_back();
//   expert.name = "cola";
//   expert.type = AdapterType::kLora;
//   expert.lora.rank = 4;
#ifndef LIBRA_CORE_LIBRARY_MANIFEST_H_
#define LIBRA_CORE_LIBRARY_MANIFEST_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra {

inline constexpr uint32_t kManifestFormatVersion = 1;

enum class AdapterType { kLora, kSparse, kDelta };

// "lora", "sparse", "delta".
const char* AdapterTypeName(AdapterType type);
absl::StatusOr<AdapterType> ParseAdapterType(absl::string_view name);

struct ModuleShape {
  int64_t out_features = 0;
  int64_t in_features = 0;
  bool operator==(const ModuleShape& other) const {
    return out_features == other.out_features && in_features == other.in_features;
  }
};

struct LoraParams {
  int32_t rank = 0;
  double alpha = 0;
  bool use_rslora = false;
  // Exact module names whose rank / alpha differ from the defaults.
  std::map<std::string, int32_t> module_rank;
  std::map<std::string, double> module_alpha;

  int32_t RankOf(const std::string& module) const;
  double AlphaOf(const std::string& module) const;
  // alpha / r, or alpha / sqrt(r) with rsLoRA, for `module` of rank `rank`.
  double ScaleOf(const std::string& module, int64_t rank) const;
};

struct SparseParams {
  double keep_ratio = 0;
};

struct AuxiliaryFile {
  std::string file_name;  // relative to the library folder
  std::string sha256;
};

struct MergeInfo {
  std::string method;
  std::map<std::string, std::string> parameters;
  std::vector<std::string> source_experts;
  std::vector<double> source_weights;  // empty or one per source
};

struct ExpertRecord {
  std::string name;
  AdapterType type = AdapterType::kLora;
  LoraParams lora;      // type kLora
  SparseParams sparse;  // type kSparse
  std::vector<std::string> target_modules;
  std::vector<std::string> tasks;
  std::map<std::string, std::string> training_config;
  std::map<std::string, double> metrics;
  std::string file_name;  // relative to the library folder
  std::string sha256;
  int64_t file_size = 0;
  std::string dtype;  // storage dtype of the float tensors
  int64_t num_parameters = 0;
  int64_t created_unix_ms = 0;
  std::map<std::string, AuxiliaryFile> auxiliary_files;  // kind -> file
  std::optional<MergeInfo> merge;
};

struct Manifest {
  uint32_t format_version = kManifestFormatVersion;
  std::string name;
  std::string base_model;
  std::map<std::string, ModuleShape> module_shapes;
  std::vector<ExpertRecord> experts;
  int64_t created_unix_ms = 0;

  const ExpertRecord* Find(absl::string_view expert) const;
  ExpertRecord* Find(absl::string_view expert);
};

// A manifest read from disk is checked before use: a known format version,
// valid unique expert names, file names inside the folder, positive module
// shapes. `label` names the file in errors.
absl::Status ValidateManifest(const Manifest& manifest, absl::string_view label);

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_MANIFEST_H_
