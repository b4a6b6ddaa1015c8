#include "src/nn/config.h"

#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/json_integer.h"
#include "src/core/status_macros.h"

namespace libra::nn {
namespace {

using json = nlohmann::json;

absl::Status Invalid(absl::string_view label, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(label, ": ", what));
}

absl::StatusOr<int64_t> RequiredInt(const json& j, const char* key, absl::string_view label) {
  auto it = j.find(key);
  std::optional<int64_t> value;
  if (it != j.end()) value = JsonInteger(*it, 1, std::numeric_limits<int64_t>::max());
  if (!value) return Invalid(label, absl::StrCat("\"", key, "\" must be a positive integer"));
  return *value;
}

// An optional positive integer: absent or null gives `fallback`.
absl::StatusOr<int64_t> OptionalInt(const json& j, const char* key, int64_t fallback,
                                    absl::string_view label) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return RequiredInt(j, key, label);
}

template <typename T>
T Optional(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

}  // namespace

int64_t ModelConfig::rotary_dim() const {
  const int64_t dim = static_cast<int64_t>(head_dim() * partial_rotary_factor);
  return dim - dim % 2;
}

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view text, absl::string_view label) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid(label, "not a JSON object");
  ModelConfig config;
  try {
    config.model_type = Optional<std::string>(j, "model_type", "");
    if (config.model_type == "llama" || config.model_type == "mistral" ||
        config.model_type == "qwen2") {
      config.family = Family::kLlama;
    } else if (config.model_type == "phi" || config.model_type == "phi-msft") {
      config.family = Family::kPhi;
    } else {
      return Invalid(label, absl::StrCat("unknown architecture model_type \"", config.model_type,
                                         "\" (known: llama, mistral, qwen2, phi)"));
    }
    LIBRA_ASSIGN_OR_RETURN(config.vocab_size, RequiredInt(j, "vocab_size", label));
    LIBRA_ASSIGN_OR_RETURN(config.hidden_size, RequiredInt(j, "hidden_size", label));
    LIBRA_ASSIGN_OR_RETURN(config.intermediate_size, RequiredInt(j, "intermediate_size", label));
    LIBRA_ASSIGN_OR_RETURN(config.num_hidden_layers, RequiredInt(j, "num_hidden_layers", label));
    LIBRA_ASSIGN_OR_RETURN(config.num_attention_heads,
                           RequiredInt(j, "num_attention_heads", label));
    LIBRA_ASSIGN_OR_RETURN(
        config.num_key_value_heads,
        OptionalInt(j, "num_key_value_heads", config.num_attention_heads, label));
    LIBRA_ASSIGN_OR_RETURN(config.max_position_embeddings,
                           OptionalInt(j, "max_position_embeddings", 2048, label));
    config.rope_theta = Optional<double>(j, "rope_theta", 10000.0);
    config.tie_word_embeddings = Optional<bool>(j, "tie_word_embeddings", false);
    if (config.family == Family::kPhi) {
      config.norm_eps = Optional<double>(j, "layer_norm_eps", 1e-5);
      config.partial_rotary_factor = Optional<double>(j, "partial_rotary_factor", 0.5);
      config.hidden_act = Optional<std::string>(j, "hidden_act", "gelu_new");
      config.attention_bias = true;
      if (Optional<bool>(j, "qk_layernorm", false)) {
        return Invalid(label, "phi with qk_layernorm is not supported");
      }
    } else {
      config.norm_eps = Optional<double>(j, "rms_norm_eps", 1e-6);
      config.hidden_act = Optional<std::string>(j, "hidden_act", "silu");
      config.attention_bias =
          config.model_type == "qwen2" || Optional<bool>(j, "attention_bias", false);
    }
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
      return Invalid(label, "rope_scaling is not supported");
    }
  } catch (const json::exception& e) {
    return Invalid(label, absl::StrCat("bad field type: ", e.what()));
  }
  if (config.hidden_act != "silu" && config.hidden_act != "gelu_new" &&
      config.hidden_act != "gelu") {
    return Invalid(label, absl::StrCat("unsupported hidden_act \"", config.hidden_act, "\""));
  }
  if (config.hidden_size % config.num_attention_heads != 0) {
    return Invalid(label, absl::StrCat("hidden_size ", config.hidden_size,
                                       " is not a multiple of num_attention_heads ",
                                       config.num_attention_heads));
  }
  if (config.num_key_value_heads <= 0 ||
      config.num_attention_heads % config.num_key_value_heads != 0) {
    return Invalid(label, absl::StrCat("num_attention_heads ", config.num_attention_heads,
                                       " is not a multiple of num_key_value_heads ",
                                       config.num_key_value_heads));
  }
  return config;
}

absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigFileBytes));
  return ParseModelConfig(text, path);
}

std::string ModelConfigToJson(const ModelConfig& config) {
  json j;
  j["model_type"] = config.model_type;
  j["architectures"] = {config.family == Family::kPhi ? "PhiForCausalLM" : "LlamaForCausalLM"};
  j["vocab_size"] = config.vocab_size;
  j["hidden_size"] = config.hidden_size;
  j["intermediate_size"] = config.intermediate_size;
  j["num_hidden_layers"] = config.num_hidden_layers;
  j["num_attention_heads"] = config.num_attention_heads;
  j["num_key_value_heads"] = config.num_key_value_heads;
  j["max_position_embeddings"] = config.max_position_embeddings;
  j["rope_theta"] = config.rope_theta;
  j["tie_word_embeddings"] = config.tie_word_embeddings;
  j["hidden_act"] = config.hidden_act;
  if (config.family == Family::kPhi) {
    j["layer_norm_eps"] = config.norm_eps;
    j["partial_rotary_factor"] = config.partial_rotary_factor;
  } else {
    j["rms_norm_eps"] = config.norm_eps;
    j["attention_bias"] = config.attention_bias;
  }
  return j.dump(2);
}

}  // namespace libra::nn
