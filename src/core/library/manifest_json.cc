#include "src/core/library/manifest_json.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

using Json = nlohmann::json;

nlohmann::json DoubleToJson(double value) {
  // JSON has no NaN/Inf: the proto3 mapping spells them as strings.
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

// Reading: each helper names the field path on error.
class Reader {
 public:
  explicit Reader(absl::string_view label) : label_(label) {}

  absl::Status Error(const std::string& path, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("manifest field \"", path, "\": ", what, " (", label_, ")"));
  }

  absl::Status Object(const Json& json, const std::string& path) const {
    if (!json.is_object()) return Error(path, "expected an object");
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const Json& object, const char* key, const std::string& path) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::string();
    if (!it->is_string()) return Error(path + "." + key, "expected a string");
    return it->get<std::string>();
  }

  absl::StatusOr<bool> Bool(const Json& object, const char* key, const std::string& path) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return false;
    if (!it->is_boolean()) return Error(path + "." + key, "expected true or false");
    return it->get<bool>();
  }

  absl::StatusOr<int64_t> Int(const Json& value, const std::string& path) const {
    if (value.is_null()) return 0;
    if (value.is_number_integer()) return value.get<int64_t>();
    if (value.is_number_float()) {
      const double number = value.get<double>();
      if (number == std::floor(number) && std::abs(number) < 9.2e18) return static_cast<int64_t>(number);
    }
    int64_t parsed = 0;
    if (value.is_string() && absl::SimpleAtoi(value.get<std::string>(), &parsed)) return parsed;
    return Error(path, "expected an integer");
  }

  absl::StatusOr<int64_t> Int(const Json& object, const char* key, const std::string& path) const {
    auto it = object.find(key);
    if (it == object.end()) return 0;
    return Int(*it, path + "." + key);
  }

  absl::StatusOr<double> Double(const Json& value, const std::string& path) const {
    if (value.is_null()) return 0.0;
    if (value.is_number()) return value.get<double>();
    if (value.is_string()) {
      const std::string text = value.get<std::string>();
      if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
      if (text == "Infinity") return std::numeric_limits<double>::infinity();
      if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
      double parsed = 0;
      if (absl::SimpleAtod(text, &parsed)) return parsed;
    }
    return Error(path, "expected a number");
  }

  absl::StatusOr<double> Double(const Json& object, const char* key, const std::string& path) const {
    auto it = object.find(key);
    if (it == object.end()) return 0.0;
    return Double(*it, path + "." + key);
  }

  absl::StatusOr<std::vector<std::string>> Strings(const Json& object, const char* key,
                                                   const std::string& path) const {
    std::vector<std::string> out;
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return out;
    if (!it->is_array()) return Error(path + "." + key, "expected a list of strings");
    for (const Json& item : *it) {
      if (!item.is_string()) return Error(path + "." + key, "expected a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // A JSON object read entry by entry with `read(key, value, path)`.
  template <typename Fn>
  absl::Status Map(const Json& object, const char* key, const std::string& path, Fn read) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_object()) return Error(path + "." + key, "expected an object");
    for (auto entry = it->begin(); entry != it->end(); ++entry) {
      LIBRA_RETURN_IF_ERROR(read(entry.key(), entry.value(), path + "." + key + "." + entry.key()));
    }
    return absl::OkStatus();
  }

 private:
  std::string label_;
};

absl::StatusOr<ExpertRecord> ExpertFromJson(const Json& json, const std::string& path,
                                            const Reader& reader) {
  LIBRA_RETURN_IF_ERROR(reader.Object(json, path));
  ExpertRecord expert;
  LIBRA_ASSIGN_OR_RETURN(expert.name, reader.String(json, "name", path));
  LIBRA_ASSIGN_OR_RETURN(std::string type, reader.String(json, "adapter_type", path));
  absl::StatusOr<AdapterType> parsed_type = ParseAdapterType(type);
  if (!parsed_type.ok()) return reader.Error(path + ".adapter_type", parsed_type.status().message());
  expert.type = *parsed_type;
  if (auto lora = json.find("lora"); lora != json.end() && !lora->is_null()) {
    const std::string lora_path = path + ".lora";
    LIBRA_RETURN_IF_ERROR(reader.Object(*lora, lora_path));
    LIBRA_ASSIGN_OR_RETURN(int64_t rank, reader.Int(*lora, "rank", lora_path));
    expert.lora.rank = static_cast<int32_t>(rank);
    LIBRA_ASSIGN_OR_RETURN(expert.lora.alpha, reader.Double(*lora, "alpha", lora_path));
    LIBRA_ASSIGN_OR_RETURN(expert.lora.use_rslora, reader.Bool(*lora, "use_rslora", lora_path));
    LIBRA_RETURN_IF_ERROR(reader.Map(*lora, "module_rank", lora_path,
                                     [&](const std::string& key, const Json& value, const std::string& p) {
                                       LIBRA_ASSIGN_OR_RETURN(int64_t r, reader.Int(value, p));
                                       expert.lora.module_rank[key] = static_cast<int32_t>(r);
                                       return absl::OkStatus();
                                     }));
    LIBRA_RETURN_IF_ERROR(reader.Map(*lora, "module_alpha", lora_path,
                                     [&](const std::string& key, const Json& value, const std::string& p) {
                                       LIBRA_ASSIGN_OR_RETURN(expert.lora.module_alpha[key], reader.Double(value, p));
                                       return absl::OkStatus();
                                     }));
  }
  if (auto sparse = json.find("sparse"); sparse != json.end() && !sparse->is_null()) {
    LIBRA_RETURN_IF_ERROR(reader.Object(*sparse, path + ".sparse"));
    LIBRA_ASSIGN_OR_RETURN(expert.sparse.keep_ratio, reader.Double(*sparse, "keep_ratio", path + ".sparse"));
  }
  LIBRA_ASSIGN_OR_RETURN(expert.target_modules, reader.Strings(json, "target_modules", path));
  LIBRA_ASSIGN_OR_RETURN(expert.tasks, reader.Strings(json, "tasks", path));
  LIBRA_RETURN_IF_ERROR(reader.Map(json, "training_config", path,
                                   [&](const std::string& key, const Json& value, const std::string& p) {
                                     if (!value.is_string()) return reader.Error(p, "expected a string");
                                     expert.training_config[key] = value.get<std::string>();
                                     return absl::OkStatus();
                                   }));
  LIBRA_RETURN_IF_ERROR(reader.Map(json, "metrics", path,
                                   [&](const std::string& key, const Json& value, const std::string& p) {
                                     LIBRA_ASSIGN_OR_RETURN(expert.metrics[key], reader.Double(value, p));
                                     return absl::OkStatus();
                                   }));
  LIBRA_ASSIGN_OR_RETURN(expert.file_name, reader.String(json, "file_name", path));
  LIBRA_ASSIGN_OR_RETURN(expert.sha256, reader.String(json, "sha256", path));
  LIBRA_ASSIGN_OR_RETURN(expert.file_size, reader.Int(json, "file_size", path));
  LIBRA_ASSIGN_OR_RETURN(expert.dtype, reader.String(json, "dtype", path));
  LIBRA_ASSIGN_OR_RETURN(expert.num_parameters, reader.Int(json, "num_parameters", path));
  LIBRA_ASSIGN_OR_RETURN(expert.created_unix_ms, reader.Int(json, "created_unix_ms", path));
  LIBRA_RETURN_IF_ERROR(reader.Map(json, "auxiliary_files", path,
                                   [&](const std::string& kind, const Json& value, const std::string& p) {
                                     LIBRA_RETURN_IF_ERROR(reader.Object(value, p));
                                     AuxiliaryFile& file = expert.auxiliary_files[kind];
                                     LIBRA_ASSIGN_OR_RETURN(file.file_name, reader.String(value, "file_name", p));
                                     LIBRA_ASSIGN_OR_RETURN(file.sha256, reader.String(value, "sha256", p));
                                     return absl::OkStatus();
                                   }));
  if (auto merge_json = json.find("merge"); merge_json != json.end() && !merge_json->is_null()) {
    const std::string merge_path = path + ".merge";
    LIBRA_RETURN_IF_ERROR(reader.Object(*merge_json, merge_path));
    MergeInfo merge;
    LIBRA_ASSIGN_OR_RETURN(merge.method, reader.String(*merge_json, "method", merge_path));
    LIBRA_RETURN_IF_ERROR(reader.Map(*merge_json, "parameters", merge_path,
                                     [&](const std::string& key, const Json& value, const std::string& p) {
                                       if (!value.is_string()) return reader.Error(p, "expected a string");
                                       merge.parameters[key] = value.get<std::string>();
                                       return absl::OkStatus();
                                     }));
    LIBRA_ASSIGN_OR_RETURN(merge.source_experts, reader.Strings(*merge_json, "source_experts", merge_path));
    if (auto weights = merge_json->find("source_weights"); weights != merge_json->end() && !weights->is_null()) {
      if (!weights->is_array()) return reader.Error(merge_path + ".source_weights", "expected a list");
      for (const Json& weight : *weights) {
        LIBRA_ASSIGN_OR_RETURN(double value, reader.Double(weight, merge_path + ".source_weights"));
        merge.source_weights.push_back(value);
      }
    }
    expert.merge = std::move(merge);
  }
  return expert;
}

}  // namespace

nlohmann::json ExpertToJson(const ExpertRecord& expert) {
  Json json = Json::object();
  json["name"] = expert.name;
  json["adapter_type"] = AdapterTypeName(expert.type);
  if (expert.type == AdapterType::kLora) {
    Json lora = Json::object();
    lora["rank"] = expert.lora.rank;
    lora["alpha"] = DoubleToJson(expert.lora.alpha);
    lora["use_rslora"] = expert.lora.use_rslora;
    lora["module_rank"] = Json::object();
    for (const auto& [module, rank] : expert.lora.module_rank) lora["module_rank"][module] = rank;
    lora["module_alpha"] = Json::object();
    for (const auto& [module, alpha] : expert.lora.module_alpha) {
      lora["module_alpha"][module] = DoubleToJson(alpha);
    }
    json["lora"] = std::move(lora);
  }
  if (expert.type == AdapterType::kSparse) {
    json["sparse"] = Json{{"keep_ratio", DoubleToJson(expert.sparse.keep_ratio)}};
  }
  json["target_modules"] = expert.target_modules;
  json["tasks"] = expert.tasks;
  json["training_config"] = Json::object();
  for (const auto& [key, value] : expert.training_config) json["training_config"][key] = value;
  json["metrics"] = Json::object();
  for (const auto& [key, value] : expert.metrics) json["metrics"][key] = DoubleToJson(value);
  json["file_name"] = expert.file_name;
  json["sha256"] = expert.sha256;
  json["file_size"] = expert.file_size;
  json["dtype"] = expert.dtype;
  json["num_parameters"] = expert.num_parameters;
  json["created_unix_ms"] = expert.created_unix_ms;
  json["auxiliary_files"] = Json::object();
  for (const auto& [kind, file] : expert.auxiliary_files) {
    json["auxiliary_files"][kind] = Json{{"file_name", file.file_name}, {"sha256", file.sha256}};
  }
  if (expert.merge.has_value()) {
    Json merge = Json::object();
    merge["method"] = expert.merge->method;
    merge["parameters"] = Json::object();
    for (const auto& [key, value] : expert.merge->parameters) merge["parameters"][key] = value;
    merge["source_experts"] = expert.merge->source_experts;
    merge["source_weights"] = Json::array();
    for (double weight : expert.merge->source_weights) merge["source_weights"].push_back(DoubleToJson(weight));
    json["merge"] = std::move(merge);
  }
  return json;
}

nlohmann::json ManifestToJson(const Manifest& manifest) {
  Json json = Json::object();
  json["format_version"] = manifest.format_version;
  json["name"] = manifest.name;
  json["base_model"] = manifest.base_model;
  json["module_shapes"] = Json::object();
  for (const auto& [module, shape] : manifest.module_shapes) {
    json["module_shapes"][module] =
        Json{{"out_features", shape.out_features}, {"in_features", shape.in_features}};
  }
  json["experts"] = Json::array();
  for (const ExpertRecord& expert : manifest.experts) json["experts"].push_back(ExpertToJson(expert));
  json["created_unix_ms"] = manifest.created_unix_ms;
  return json;
}

absl::StatusOr<Manifest> ManifestFromJson(const nlohmann::json& json, absl::string_view label) {
  Reader reader(label);
  LIBRA_RETURN_IF_ERROR(reader.Object(json, "$"));
  Manifest manifest;
  LIBRA_ASSIGN_OR_RETURN(int64_t version, reader.Int(json, "format_version", "$"));
  if (version < 0 || version > std::numeric_limits<uint32_t>::max()) {
    return reader.Error("$.format_version", "out of range");
  }
  manifest.format_version = static_cast<uint32_t>(version);
  LIBRA_ASSIGN_OR_RETURN(manifest.name, reader.String(json, "name", "$"));
  LIBRA_ASSIGN_OR_RETURN(manifest.base_model, reader.String(json, "base_model", "$"));
  LIBRA_RETURN_IF_ERROR(reader.Map(json, "module_shapes", "$",
                                   [&](const std::string& module, const Json& value, const std::string& p) {
                                     LIBRA_RETURN_IF_ERROR(reader.Object(value, p));
                                     ModuleShape& shape = manifest.module_shapes[module];
                                     LIBRA_ASSIGN_OR_RETURN(shape.out_features, reader.Int(value, "out_features", p));
                                     LIBRA_ASSIGN_OR_RETURN(shape.in_features, reader.Int(value, "in_features", p));
                                     return absl::OkStatus();
                                   }));
  if (auto experts = json.find("experts"); experts != json.end() && !experts->is_null()) {
    if (!experts->is_array()) return reader.Error("$.experts", "expected a list");
    for (size_t i = 0; i < experts->size(); ++i) {
      LIBRA_ASSIGN_OR_RETURN(ExpertRecord expert,
                             ExpertFromJson((*experts)[i], absl::StrCat("$.experts[", i, "]"), reader));
      manifest.experts.push_back(std::move(expert));
    }
  }
  LIBRA_ASSIGN_OR_RETURN(manifest.created_unix_ms, reader.Int(json, "created_unix_ms", "$"));
  LIBRA_RETURN_IF_ERROR(ValidateManifest(manifest, label));
  return manifest;
}

}  // namespace libra
