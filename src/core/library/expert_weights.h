// An expert's tensors, by module, in the library's naming:
//   LoRA    <module>.lora_A.weight [r, in], <module>.lora_B.weight [out, r]
//   delta   <module>.delta.weight [out, in]
//   sparse  <module>.sparse.indices (I64, flat row-major, strictly increasing),
//           <module>.sparse.values [nnz] (float), <module>.sparse.shape (I64 [2] = [out, in])
//   sparse and delta experts may add <module>.bias [out].
//
// InspectExpertFile checks a file against these rules without loading the
// float data; LoadExpertWeights reads everything, with each LoRA module's
// alpha and scale taken from the expert's record.
//
//   LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
//   LIBRA_ASSIGN_OR_RETURN(ExpertLayout layout, InspectExpertFile(file, AdapterType::kLora));
//   LIBRA_ASSIGN_OR_RETURN(ExpertWeights weights, LoadExpertWeights(file, record));
//   const LoraModule& q = weights.lora.at("model.layers.0.self_attn.q_proj");
#ifndef LIBRA_CORE_LIBRARY_EXPERT_WEIGHTS_H_
#define LIBRA_CORE_LIBRARY_EXPERT_WEIGHTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/manifest.h"
#include "src/core/tensor.h"

namespace libra {

struct LoraModule {
  Tensor a;  // [r, in]
  Tensor b;  // [out, r]
  double alpha = 0;
  double scale = 0;  // dW = scale * B A
};

struct SparseModule {
  std::vector<int64_t> indices;  // flat row-major into [out, in], increasing
  Tensor values;                 // [nnz]
  ModuleShape shape;
};

struct ExpertWeights {
  AdapterType type = AdapterType::kLora;
  std::map<std::string, LoraModule> lora;
  std::map<std::string, Tensor> delta;  // [out, in]
  std::map<std::string, SparseModule> sparse;
  std::map<std::string, Tensor> bias;  // [out], sparse and delta experts only
};

struct ModuleLayout {
  ModuleShape shape;  // the base layer's [out, in]
  int64_t rank = 0;   // LoRA
  int64_t nnz = 0;    // sparse
};

struct ExpertLayout {
  AdapterType type = AdapterType::kLora;
  std::map<std::string, ModuleLayout> modules;
  int64_t num_parameters = 0;  // stored values (LoRA A+B, delta, sparse values, biases)
  std::string dtype;           // of the float tensors; "mixed" if they differ
};

// Tensor names of a module.
std::string LoraATensorName(const std::string& module);
std::string LoraBTensorName(const std::string& module);
std::string DeltaTensorName(const std::string& module);

// Validates names, dtypes and shapes (LoRA pairs complete and of equal rank,
// sparse indices sorted and in range) of an expert of type `type`.
absl::StatusOr<ExpertLayout> InspectExpertFile(const SafetensorsFile& file, AdapterType type);

// The type the file's tensor names say (lora_A/B, sparse.*, delta); an error
// when they name none or several.
absl::StatusOr<AdapterType> InferAdapterType(const SafetensorsFile& file);

// Reads all tensors (as float32 / int64). LoRA alpha and scale per module
// come from `record.lora`.
absl::StatusOr<ExpertWeights> LoadExpertWeights(const SafetensorsFile& file, const ExpertRecord& record);

// Adds `weights` to `writer` under the names above, floats stored as `dtype`.
absl::Status AddExpertWeights(const ExpertWeights& weights, DType dtype, SafetensorsWriter* writer);

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_EXPERT_WEIGHTS_H_
