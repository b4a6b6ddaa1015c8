#include "src/core/engine/config.h"

#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/json_integer.h"

namespace libra::engine {
namespace {

using Json = nlohmann::json;

absl::Status ReadInt(const Json& json, const char* key, bool required, int64_t* out,
                     absl::string_view label) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    if (required) return absl::InvalidArgumentError(absl::StrCat("config: missing \"", key, "\" (", label, ")"));
    return absl::OkStatus();
  }
  const std::optional<int64_t> value = JsonInteger(*it, 1, std::numeric_limits<int64_t>::max());
  if (!value) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: \"", key, "\" must be a positive integer, got ", it->dump(), " (", label, ")"));
  }
  *out = *value;
  return absl::OkStatus();
}

absl::Status ReadFloat(const Json& json, const char* key, float* out, absl::string_view label) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number() || it->get<double>() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: \"", key, "\" must be a positive number, got ", it->dump(), " (", label, ")"));
  }
  *out = static_cast<float>(it->get<double>());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LlamaConfig> ParseLlamaConfig(absl::string_view text, absl::string_view label) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("config: not a JSON object (", label, ")"));
  }
  LlamaConfig config;
  absl::Status status;
  status.Update(ReadInt(json, "vocab_size", true, &config.vocab_size, label));
  status.Update(ReadInt(json, "hidden_size", true, &config.hidden_size, label));
  status.Update(ReadInt(json, "intermediate_size", true, &config.intermediate_size, label));
  status.Update(ReadInt(json, "num_hidden_layers", true, &config.num_layers, label));
  status.Update(ReadInt(json, "num_attention_heads", true, &config.num_heads, label));
  config.num_kv_heads = config.num_heads;
  status.Update(ReadInt(json, "num_key_value_heads", false, &config.num_kv_heads, label));
  status.Update(ReadInt(json, "max_position_embeddings", false, &config.max_positions, label));
  status.Update(ReadFloat(json, "rms_norm_eps", &config.rms_norm_eps, label));
  status.Update(ReadFloat(json, "rope_theta", &config.rope_theta, label));
  if (!status.ok()) return status;
  if (auto it = json.find("tie_word_embeddings"); it != json.end() && it->is_boolean()) {
    config.tie_word_embeddings = it->get<bool>();
  }
  if (auto it = json.find("hidden_act"); it != json.end() && *it != "silu") {
    return absl::InvalidArgumentError(
        absl::StrCat("config: hidden_act must be \"silu\", got ", it->dump(), " (", label, ")"));
  }
  if (auto it = json.find("rope_scaling"); it != json.end() && !it->is_null()) {
    return absl::InvalidArgumentError(absl::StrCat("config: rope_scaling is not supported (", label, ")"));
  }
  if (config.hidden_size % config.num_heads != 0 || config.num_heads % config.num_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: hidden_size ", config.hidden_size, ", num_attention_heads ", config.num_heads,
        " and num_key_value_heads ", config.num_kv_heads, " do not divide (", label, ")"));
  }
  if (config.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: head dimension ", config.head_dim(), " must be even for RoPE (", label, ")"));
  }
  return config;
}

std::string LlamaConfigToJson(const LlamaConfig& config) {
  Json json = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_layers},
      {"num_attention_heads", config.num_heads},
      {"num_key_value_heads", config.num_kv_heads},
      {"max_position_embeddings", config.max_positions},
      {"rms_norm_eps", config.rms_norm_eps},
      {"rope_theta", config.rope_theta},
      {"tie_word_embeddings", config.tie_word_embeddings},
  };
  return json.dump(2);
}

}  // namespace libra::engine
