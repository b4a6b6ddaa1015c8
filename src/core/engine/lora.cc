#include "src/core/engine/lora.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/arrow/prototype.h"
#include "src/core/status_macros.h"

namespace libra::engine {
namespace {

struct Parsed {
  int layer = -1;
  Proj proj = Proj::kQ;
  bool is_a = false;
};

// "....layers.<n>.<proj name>.lora_{A,B}[.weight]" -> (n, proj, A?)
bool ParseLoraName(absl::string_view name, Parsed* out) {
  size_t layers = name.rfind("layers.");
  if (layers == absl::string_view::npos) return false;
  absl::string_view rest = name.substr(layers + 7);
  size_t dot = rest.find('.');
  if (dot == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, dot), &out->layer)) return false;
  rest = rest.substr(dot + 1);
  for (int p = 0; p < kNumProj; ++p) {
    const std::string prefix = absl::StrCat(ProjName(static_cast<Proj>(p)), ".lora_");
    if (rest.substr(0, prefix.size()) != prefix) continue;
    absl::string_view factor = rest.substr(prefix.size());
    if (factor != "A" && factor != "B" && factor != "A.weight" && factor != "B.weight") return false;
    out->proj = static_cast<Proj>(p);
    out->is_a = factor[0] == 'A';
    return true;
  }
  return false;
}

absl::StatusOr<float> ScaleFromMetadata(const SafetensorsFile& file, int64_t rank) {
  const auto& metadata = file.metadata();
  double value = 1;
  if (auto it = metadata.find("lora_scale"); it != metadata.end()) {
    if (!absl::SimpleAtod(it->second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata \"lora_scale\": not a number: \"", it->second, "\" (", file.label(), ")"));
    }
    return static_cast<float>(value);
  }
  if (auto it = metadata.find("lora_alpha"); it != metadata.end()) {
    if (!absl::SimpleAtod(it->second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata \"lora_alpha\": not a number: \"", it->second, "\" (", file.label(), ")"));
    }
    auto rslora = metadata.find("use_rslora");
    const bool use_rslora = rslora != metadata.end() && rslora->second == "true";
    return static_cast<float>(value / (use_rslora ? std::sqrt(static_cast<double>(rank)) : rank));
  }
  return 1.0f;
}

}  // namespace

const char* ProjName(Proj proj) {
  switch (proj) {
    case Proj::kQ: return "self_attn.q_proj";
    case Proj::kK: return "self_attn.k_proj";
    case Proj::kV: return "self_attn.v_proj";
    case Proj::kO: return "self_attn.o_proj";
    case Proj::kGate: return "mlp.gate_proj";
    case Proj::kUp: return "mlp.up_proj";
    case Proj::kDown: return "mlp.down_proj";
  }
  return "?";
}

int64_t ProjOutDim(const LlamaConfig& config, Proj proj) {
  switch (proj) {
    case Proj::kQ: return config.num_heads * config.head_dim();
    case Proj::kK: case Proj::kV: return config.kv_dim();
    case Proj::kO: case Proj::kDown: return config.hidden_size;
    case Proj::kGate: case Proj::kUp: return config.intermediate_size;
  }
  return 0;
}

int64_t ProjInDim(const LlamaConfig& config, Proj proj) {
  switch (proj) {
    case Proj::kO: return config.num_heads * config.head_dim();
    case Proj::kDown: return config.intermediate_size;
    default: return config.hidden_size;
  }
}

absl::StatusOr<LoraExpert> LoadLoraExpert(std::string name, const SafetensorsFile& file,
                                          const LlamaConfig& config) {
  LoraExpert expert;
  expert.name = std::move(name);
  std::map<std::pair<int, int>, std::pair<std::string, std::string>> pairs;  // A name, B name
  for (const TensorInfo& info : file.tensors()) {
    Parsed parsed;
    if (info.name.find(".lora_") == std::string::npos) continue;
    if (!ParseLoraName(info.name, &parsed)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", info.name, "\": not a LoRA factor of a Llama projection (", file.label(), ")"));
    }
    if (parsed.layer < 0 || parsed.layer >= config.num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", info.name, "\": layer ", parsed.layer,
                                                     " outside the model's ", config.num_layers,
                                                     " layers (", file.label(), ")"));
    }
    auto& slot = pairs[{parsed.layer, static_cast<int>(parsed.proj)}];
    (parsed.is_a ? slot.first : slot.second) = info.name;
  }
  if (pairs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no LoRA modules (", file.label(), ")"));
  }
  for (const auto& [key, names] : pairs) {
    const Proj proj = static_cast<Proj>(key.second);
    if (names.first.empty() || names.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", names.first.empty() ? names.second : names.first,
                                                     "\": its ", names.first.empty() ? "lora_A" : "lora_B",
                                                     " is missing (", file.label(), ")"));
    }
    LoraModule module;
    LIBRA_ASSIGN_OR_RETURN(module.a, file.ReadFloat(names.first));
    LIBRA_ASSIGN_OR_RETURN(module.b, file.ReadFloat(names.second));
    const int64_t in = ProjInDim(config, proj), out = ProjOutDim(config, proj);
    const int64_t rank = module.a.rank() == 2 ? module.a.dim(0) : -1;
    if (rank <= 0 || module.a.dim(1) != in) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", names.first, "\": expected [r, ", in, "], got ",
                                                     ShapeToString(module.a.shape()), " (", file.label(), ")"));
    }
    if (module.b.rank() != 2 || module.b.dim(0) != out || module.b.dim(1) != rank) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", names.second, "\": expected [", out, ", ", rank,
                                                     "], got ", ShapeToString(module.b.shape()), " (",
                                                     file.label(), ")"));
    }
    LIBRA_ASSIGN_OR_RETURN(module.scale, ScaleFromMetadata(file, rank));
    LIBRA_ASSIGN_OR_RETURN(module.prototype,
                           arrow::TopRightSingularVector(module.a, module.b, module.scale, names.first));
    expert.modules.emplace(key, std::move(module));
  }
  return expert;
}

}  // namespace libra::engine
