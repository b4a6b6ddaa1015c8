// Embind bindings of the core for the browser and Node (see libra_api.js,
// which wraps them into a JavaScript-native API).
//
// Every function returns a plain JS object; on failure it is
// {error: "<CODE>: <core message>"}, which libra_api.js turns into a thrown
// LibraError. No C++ exception crosses into JavaScript (the core throws
// none, and the build keeps exceptions off).
#include <emscripten/bind.h>
#include <emscripten/val.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/arrow/prototype.h"
#include "src/core/arrow/router.h"
#include "src/core/cluster/mbc.h"
#include "src/core/cluster/mbc_files.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/engine/model.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/manifest.h"
#include "src/core/library/manifest_json.h"
#include "src/core/lora/lora_modules.h"
#include "src/core/merge/expert_file.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/method.h"
#include "src/core/merge/registry.h"
#include "src/core/merge/stream.h"
#include "src/core/tensor.h"

namespace libra::wasm {
namespace {

using emscripten::val;
using Json = nlohmann::json;

val Error(const absl::Status& status) {
  val out = val::object();
  out.set("error", status.ToString());
  return out;
}

val Ok(val value) {
  val out = val::object();
  out.set("value", value);
  return out;
}

std::string BytesFromJs(const val& array) {  // Uint8Array -> bytes
  const size_t n = array["length"].as<size_t>();
  std::string bytes(n, '\0');
  val view = val(emscripten::typed_memory_view(n, reinterpret_cast<uint8_t*>(bytes.data())));
  view.call<void>("set", array);
  return bytes;
}

std::vector<float> FloatsFromJs(const val& array) {
  return emscripten::convertJSArrayToNumberVector<float>(array);
}

val Float32ArrayOf(const float* data, size_t n) {
  return val::global("Float32Array").new_(emscripten::typed_memory_view(n, data));
}

val Uint8ArrayOf(const std::string& bytes) {
  return val::global("Uint8Array").new_(
      emscripten::typed_memory_view(bytes.size(), reinterpret_cast<const uint8_t*>(bytes.data())));
}

// {"lambda": 0.5, "weight": [1, 2], "density": 0.2} -> MergeArguments.
absl::StatusOr<merge::MergeArguments> ParseArguments(const std::string& text) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("merge parameters: not a JSON object: ", text));
  }
  merge::MergeArguments args;
  for (const auto& [key, value] : json.items()) {
    if (value.is_number()) {
      args.scalars[key] = value.get<double>();
    } else if (value.is_array() && std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_number(); })) {
      args.per_expert[key] = value.get<std::vector<double>>();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("merge parameter \"", key, "\": expected a number or a list of numbers, got ", value.dump()));
    }
  }
  return args;
}

// A library manifest in its JSON form (manifest_json.h: what protobufjs
// decodes from library.pb, or `libra library ls --json`), validated.
absl::StatusOr<Manifest> ManifestFromText(const std::string& text, const std::string& label) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(label, ": not JSON"));
  return ManifestFromJson(json, label);
}

// Validates a manifest and returns it in the core's JSON form (every field,
// defaults included), as text for JSON.parse.
val ParseManifest(const std::string& text, const std::string& label) {
  auto manifest = ManifestFromText(text, label);
  if (!manifest.ok()) return Error(manifest.status());
  return Ok(val(ManifestToJson(*manifest).dump()));
}

// Expert images are written to the in-memory file system under their own
// names, so the core's messages name the expert ("logic.safetensors").
absl::StatusOr<std::vector<std::string>> WriteExpertFiles(const val& names, const val& images,
                                                         const std::string& folder) {
  const int n = images["length"].as<int>();
  if (names["length"].as<int>() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(names["length"].as<int>(), " expert names for ", n, " expert files"));
  }
  mkdir(folder.c_str(), 0755);
  std::vector<std::string> paths;
  for (int i = 0; i < n; ++i) {
    std::string name = names[i].as<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') name = absl::StrCat("expert_", i);
    const std::string path = absl::StrCat(folder, "/", name, ".safetensors");
    const std::string bytes = BytesFromJs(images[i]);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return absl::InternalError(absl::StrCat("cannot write to the in-memory file system (", path, ")"));
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    paths.push_back(path);
  }
  return paths;
}

void RemoveFiles(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) std::remove(path.c_str());
}

// MBC (src/core/cluster): images are LoRA expert files (PEFT or library
// names); options {k, sparsityQuantile, embeddingDims, restarts,
// maxIterations, seed}. Returns {assignment, similarity [N*N], embedding
// [N*d], dims, inertia}.
val ClusterExperts(const val& names, const val& images, const std::string& options_json) {
  Json json = Json::parse(options_json, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Error(absl::InvalidArgumentError(absl::StrCat("MBC options: not a JSON object: ", options_json)));
  }
  cluster::MbcOptions options;
  for (const auto& [key, value] : json.items()) {
    if (!value.is_number()) {
      return Error(absl::InvalidArgumentError(absl::StrCat("MBC option \"", key, "\": not a number: ", value.dump())));
    }
    if (key == "k") {
      options.k = value.get<int>();
    } else if (key == "sparsityQuantile") {
      options.sparsity_quantile = value.get<double>();
    } else if (key == "embeddingDims") {
      options.embedding_dims = value.get<int>();
    } else if (key == "restarts") {
      options.restarts = value.get<int>();
    } else if (key == "maxIterations") {
      options.max_iterations = value.get<int>();
    } else if (key == "seed") {
      options.seed = value.get<uint64_t>();
    } else {
      return Error(absl::InvalidArgumentError(absl::StrCat(
          "MBC option \"", key, "\": unknown (k, sparsityQuantile, embeddingDims, restarts, maxIterations, seed)")));
    }
  }
  auto paths = WriteExpertFiles(names, images, "/tmp/libra_mbc");
  if (!paths.ok()) return Error(paths.status());
  auto result = cluster::ClusterLoraFiles(*paths, options);
  RemoveFiles(*paths);
  if (!result.ok()) return Error(result.status());
  val out = val::object();
  val assignment = val::array();
  for (int c : result->assignment) assignment.call<void>("push", c);
  out.set("assignment", assignment);
  out.set("similarity", Float32ArrayOf(result->similarity.data(), result->similarity.values().size()));
  out.set("embedding", Float32ArrayOf(result->embedding.data(), result->embedding.values().size()));
  out.set("dims", static_cast<double>(result->embedding.shape().size() == 2 ? result->embedding.shape()[1] : 0));
  out.set("inertia", result->inertia);
  return Ok(out);
}

val ListMethods() {
  val methods = val::array();
  for (const merge::MethodSpec& method : merge::AllMethods()) {
    val m = val::object();
    m.set("name", std::string(method.name));
    m.set("paper", std::string(method.paper_url));
    val params = val::array();
    for (const merge::ParamSpec& p : method.params) {
      val param = val::object();
      param.set("name", std::string(p.name));
      param.set("required", p.required);
      param.set("default", p.default_value);
      param.set("min", p.min);
      param.set("max", p.max);
      param.set("perExpert", p.per_expert);
      params.call<void>("push", param);
    }
    m.set("params", params);
    methods.call<void>("push", m);
  }
  return methods;
}

// Reads a safetensors image: names, dtypes, shapes and metadata.
val InspectSafetensors(const val& bytes, const std::string& label) {
  auto file = SafetensorsFile::FromBytes(BytesFromJs(bytes), label);
  if (!file.ok()) return Error(file.status());
  val tensors = val::array();
  for (const TensorInfo& info : file->tensors()) {
    val t = val::object();
    t.set("name", info.name);
    t.set("dtype", std::string(DTypeName(info.dtype)));
    val shape = val::array();
    for (int64_t d : info.shape) shape.call<void>("push", static_cast<double>(d));
    t.set("shape", shape);
    tensors.call<void>("push", t);
  }
  val metadata = val::object();
  for (const auto& [key, value] : file->metadata()) metadata.set(key, value);
  val out = val::object();
  out.set("tensors", tensors);
  out.set("metadata", metadata);
  return Ok(out);
}

// One float tensor of a safetensors image, as a Float32Array.
val ReadTensor(const val& bytes, const std::string& label, const std::string& name) {
  auto file = SafetensorsFile::FromBytes(BytesFromJs(bytes), label);
  if (!file.ok()) return Error(file.status());
  auto tensor = file->ReadFloat(name);
  if (!tensor.ok()) return Error(tensor.status());
  return Ok(Float32ArrayOf(tensor->data(), tensor->values().size()));
}

// Tensor-level merge: experts is an array of Float32Array, all of `shape`.
val MergeTensors(const std::string& method_name, const std::string& params_json, const val& experts,
                 const val& shape_js) {
  auto method = merge::FindMethod(method_name);
  if (!method.ok()) return Error(method.status());
  auto args = ParseArguments(params_json);
  if (!args.ok()) return Error(args.status());
  const int n = experts["length"].as<int>();
  auto params = merge::BindParams(**method, *args, n);
  if (!params.ok()) return Error(params.status());
  Shape shape;
  for (double d : emscripten::convertJSArrayToNumberVector<double>(shape_js)) shape.push_back(static_cast<int64_t>(d));
  std::vector<Tensor> tensors;
  for (int i = 0; i < n; ++i) {
    auto tensor = Tensor::Make(shape, FloatsFromJs(experts[i]));
    if (!tensor.ok()) {
      return Error(absl::InvalidArgumentError(absl::StrCat("expert ", i, ": ", tensor.status().message())));
    }
    tensors.push_back(std::move(*tensor));
  }
  auto merged = merge::Merge(**method, nullptr, tensors, *params);
  if (!merged.ok()) return Error(merged.status());
  return Ok(Float32ArrayOf(merged->data(), merged->values().size()));
}

// Best wall time over `repeats` of MergeTensors' core call, with the inputs
// already in wasm memory (bench/wasm: GB/s against native).
val TimeMerge(const std::string& method_name, const std::string& params_json, const val& experts,
              const val& shape_js, int repeats) {
  auto method = merge::FindMethod(method_name);
  if (!method.ok()) return Error(method.status());
  auto args = ParseArguments(params_json);
  if (!args.ok()) return Error(args.status());
  const int n = experts["length"].as<int>();
  auto params = merge::BindParams(**method, *args, n);
  if (!params.ok()) return Error(params.status());
  Shape shape;
  for (double d : emscripten::convertJSArrayToNumberVector<double>(shape_js)) shape.push_back(static_cast<int64_t>(d));
  std::vector<Tensor> tensors;
  for (int i = 0; i < n; ++i) {
    auto tensor = Tensor::Make(shape, FloatsFromJs(experts[i]));
    if (!tensor.ok()) return Error(tensor.status());
    tensors.push_back(std::move(*tensor));
  }
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto merged = merge::Merge(**method, nullptr, tensors, *params);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!merged.ok()) return Error(merged.status());
    best = std::min(best, seconds);
  }
  return Ok(val(best));
}

// File-level streaming merge of expert safetensors images (in MEMFS);
// returns the merged file's bytes and the report. With a manifest (JSON
// text, "" for none), each expert the manifest lists takes its LoRA scale
// from its record (alpha, rank, rsLoRA and patterns), as `libra merge` does.
val MergeExperts(const std::string& method_name, const std::string& params_json, const val& names,
                 const val& images, const std::string& mode, const std::string& manifest_json) {
  auto method = merge::FindMethod(method_name);
  if (!method.ok()) return Error(method.status());
  auto args = ParseArguments(params_json);
  if (!args.ok()) return Error(args.status());
  const int n = images["length"].as<int>();
  auto params = merge::BindParams(**method, *args, n);
  if (!params.ok()) return Error(params.status());
  std::optional<Manifest> manifest;
  if (!manifest_json.empty()) {
    auto parsed = ManifestFromText(manifest_json, "library manifest");
    if (!parsed.ok()) return Error(parsed.status());
    manifest = std::move(*parsed);
  }
  merge::StreamMergeRequest request;
  request.method = *method;
  request.params = *params;
  auto lora_mode = merge::ParseLoraMode(mode);
  if (!lora_mode.ok()) return Error(lora_mode.status());
  request.options.mode = *lora_mode;
  auto paths = WriteExpertFiles(names, images, "/tmp/libra_merge");
  if (!paths.ok()) return Error(paths.status());
  for (int i = 0; i < n; ++i) {
    const std::string name = names[i].as<std::string>();
    std::optional<merge::LoraScaling> scaling;
    if (manifest.has_value()) {
      if (const ExpertRecord* record = manifest->Find(name); record != nullptr) {
        scaling.emplace();
        scaling->scale_of = [lora = record->lora](const std::string& module, int64_t rank) {
          return lora.ScaleOf(module, rank);
        };
      }
    }
    request.experts.push_back({name, (*paths)[i], scaling});
  }
  request.out_path = "/tmp/libra_merged.safetensors";
  auto report = merge::MergeExpertFiles(request);
  RemoveFiles(*paths);
  if (!report.ok()) return Error(report.status());
  FILE* f = std::fopen(request.out_path.c_str(), "rb");
  std::string merged;
  if (f != nullptr) {
    char buffer[1 << 16];
    size_t got;
    while ((got = std::fread(buffer, 1, sizeof(buffer), f)) > 0) merged.append(buffer, got);
    std::fclose(f);
  }
  std::remove(request.out_path.c_str());
  val out = val::object();
  out.set("bytes", Uint8ArrayOf(merged));
  out.set("modules", static_cast<double>(report->modules));
  val warnings = val::array();
  for (const std::string& w : report->warnings) warnings.call<void>("push", w);
  out.set("warnings", warnings);
  return Ok(out);
}

// Arrow prototype of one LoRA module: A [r, in], B [out, r], scale s.
val ArrowPrototype(const val& a_js, const val& a_shape, const val& b_js, const val& b_shape, float scale) {
  auto shape_of = [](const val& s) {
    Shape shape;
    for (double d : emscripten::convertJSArrayToNumberVector<double>(s)) shape.push_back(static_cast<int64_t>(d));
    return shape;
  };
  auto a = Tensor::Make(shape_of(a_shape), FloatsFromJs(a_js));
  if (!a.ok()) return Error(a.status());
  auto b = Tensor::Make(shape_of(b_shape), FloatsFromJs(b_js));
  if (!b.ok()) return Error(b.status());
  auto p = arrow::TopRightSingularVector(*a, *b, scale);
  if (!p.ok()) return Error(p.status());
  return Ok(Float32ArrayOf(p->data(), p->values().size()));
}

// Arrow routing of hidden [tokens, dim] over prototypes [experts, dim].
val Route(const val& hidden_js, const val& prototypes_js, int dim, int top_k, float temperature) {
  const std::vector<float> hidden = FloatsFromJs(hidden_js);
  const std::vector<float> prototypes = FloatsFromJs(prototypes_js);
  if (dim <= 0 || hidden.size() % dim != 0 || prototypes.size() % dim != 0) {
    return Error(absl::InvalidArgumentError(absl::StrCat("route: hidden (", hidden.size(), " values) and prototypes (",
                                                         prototypes.size(), " values) are not rows of dim ", dim)));
  }
  auto hidden_t = Tensor::Make({static_cast<int64_t>(hidden.size() / dim), dim}, hidden);
  auto protos_t = Tensor::Make({static_cast<int64_t>(prototypes.size() / dim), dim}, prototypes);
  arrow::RouterOptions options;
  options.top_k = top_k;
  options.temperature = temperature;
  auto routing = arrow::Route(*hidden_t, *protos_t, options);
  if (!routing.ok()) return Error(routing.status());
  val out = val::object();
  out.set("tokens", static_cast<double>(routing->tokens));
  out.set("topK", routing->top_k);
  out.set("experts", val::global("Int32Array").new_(
                         emscripten::typed_memory_view(routing->experts.size(), routing->experts.data())));
  out.set("weights", Float32ArrayOf(routing->weights.data(), routing->weights.size()));
  return Ok(out);
}

// {mode: "arrow"|"uniform", topK, temperature, parameterMixing}, each
// optional; the engine checks the values when a session starts.
absl::StatusOr<engine::RoutingOptions> ParseRoutingOptions(const val& options_js) {
  engine::RoutingOptions options;
  auto present = [&](const char* key) { return !options_js[key].isUndefined() && !options_js[key].isNull(); };
  if (present("topK")) options.top_k = options_js["topK"].as<int>();
  if (present("temperature")) options.temperature = options_js["temperature"].as<float>();
  if (present("parameterMixing")) options.parameter_mixing = options_js["parameterMixing"].as<bool>();
  if (present("mode")) {
    const std::string mode = options_js["mode"].as<std::string>();
    if (mode == "uniform") {
      options.mode = engine::RoutingOptions::Mode::kUniform;
    } else if (mode != "arrow") {
      return absl::InvalidArgumentError(
          absl::StrCat("routing mode must be \"arrow\" or \"uniform\", got \"", mode, "\""));
    }
  }
  return options;
}

// A Llama model with LoRA experts, generating with Arrow routing.
class Engine {
 public:
  val Load(const std::string& config_json, const val& weights) {
    auto config = engine::ParseLlamaConfig(config_json, "config.json");
    if (!config.ok()) return Error(config.status());
    auto file = SafetensorsFile::FromBytes(BytesFromJs(weights), "model.safetensors");
    if (!file.ok()) return Error(file.status());
    auto model = engine::LlamaModel::Load(*config, *file);
    if (!model.ok()) return Error(model.status());
    model_ = std::move(*model);
    experts_.clear();
    loaded_ = true;
    return Ok(val(true));
  }

  val AddExpert(const std::string& name, const val& bytes) {
    if (!loaded_) return Error(absl::FailedPreconditionError("engine: load a model before adding experts"));
    auto file = SafetensorsFile::FromBytes(BytesFromJs(bytes), name + ".safetensors");
    if (!file.ok()) return Error(file.status());
    auto expert = engine::LoadLoraExpert(name, *file, model_.config);
    if (!expert.ok()) return Error(expert.status());
    experts_.push_back(std::move(*expert));
    return Ok(val(static_cast<int>(experts_.size())));
  }

  // An expert of a library: its file uses the library's tensor names and
  // carries no scale; the scale of each module comes from the manifest's
  // record (LoraParams::ScaleOf), as everywhere else in libra.
  val AddLibraryExpert(const std::string& manifest_json, const std::string& name, const val& bytes) {
    if (!loaded_) return Error(absl::FailedPreconditionError("engine: load a model before adding experts"));
    auto manifest = ManifestFromText(manifest_json, "library manifest");
    if (!manifest.ok()) return Error(manifest.status());
    const ExpertRecord* record = manifest->Find(name);
    if (record == nullptr) {
      return Error(absl::NotFoundError(absl::StrCat("expert \"", name, "\" is not in library \"", manifest->name, "\"")));
    }
    if (record->type != AdapterType::kLora) {
      return Error(absl::InvalidArgumentError(absl::StrCat("expert \"", name, "\" is a ", AdapterTypeName(record->type),
                                                           " expert; the engine routes LoRA experts")));
    }
    auto file = SafetensorsFile::FromBytes(BytesFromJs(bytes), record->file_name);
    if (!file.ok()) return Error(file.status());
    auto expert = engine::LoadLoraExpert(name, *file, model_.config);
    if (!expert.ok()) return Error(expert.status());
    auto modules = ReadLoraModules(*file);
    if (!modules.ok()) return Error(modules.status());
    for (const NamedLoraModule& module : *modules) {
      for (auto& [key, lora] : expert->modules) {
        const std::string suffix =
            absl::StrCat("layers.", key.first, ".", engine::ProjName(static_cast<engine::Proj>(key.second)));
        if (module.name.size() >= suffix.size() &&
            module.name.compare(module.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          lora.scale = static_cast<float>(record->lora.ScaleOf(module.name, module.a.shape()[0]));
        }
      }
    }
    experts_.push_back(std::move(*expert));
    return Ok(val(static_cast<int>(experts_.size())));
  }

  void ClearExperts() { experts_.clear(); }

  val Info() const {
    val out = val::object();
    out.set("loaded", loaded_);
    if (!loaded_) return out;
    const engine::LlamaConfig& c = model_.config;
    out.set("vocabSize", static_cast<double>(c.vocab_size));
    out.set("hiddenSize", static_cast<double>(c.hidden_size));
    out.set("layers", static_cast<double>(c.num_layers));
    out.set("heads", static_cast<double>(c.num_heads));
    out.set("kvHeads", static_cast<double>(c.num_kv_heads));
    val names = val::array();
    for (const auto& e : experts_) names.call<void>("push", e.name);
    out.set("experts", names);
    val projections = val::array();
    for (int p = 0; p < engine::kNumProj; ++p) {
      projections.call<void>("push", std::string(engine::ProjName(static_cast<engine::Proj>(p))));
    }
    out.set("projections", projections);
    return out;
  }

  // options: {maxNewTokens, eos, mode: "arrow"|"uniform", topK, temperature, parameterMixing}
  val Generate(const val& prompt_js, const val& options_js) {
    if (!loaded_) return Error(absl::FailedPreconditionError("engine: no model loaded"));
    auto options = ParseRoutingOptions(options_js);
    if (!options.ok()) return Error(options.status());
    auto get = [&](const char* key, double fallback) {
      val v = options_js[key];
      return v.isUndefined() || v.isNull() ? fallback : v.as<double>();
    };
    auto session = engine::Session::Create(&model_, &experts_, *options);
    if (!session.ok()) return Error(session.status());
    std::vector<int64_t> prompt;
    for (double t : emscripten::convertJSArrayToNumberVector<double>(prompt_js)) prompt.push_back(static_cast<int64_t>(t));
    auto generation = engine::GenerateGreedy(*session, prompt, static_cast<int>(get("maxNewTokens", 16)),
                                             static_cast<int64_t>(get("eos", -1)));
    if (!generation.ok()) return Error(generation.status());
    val tokens = val::array();
    for (int64_t t : generation->tokens) tokens.call<void>("push", static_cast<double>(t));
    val out = val::object();
    out.set("tokens", tokens);
    out.set("steps", static_cast<double>(generation->steps));
    out.set("layers", static_cast<double>(model_.config.num_layers));
    out.set("projections", engine::kNumProj);
    out.set("experts", static_cast<int>(experts_.size()));
    out.set("routing", Float32ArrayOf(generation->routing.data(), generation->routing.size()));
    return Ok(out);
  }

  // Logits of every position of `tokens`, routed as Generate routes (tests
  // compare them with native; the page scores teacher-forced answers).
  val Logits(const val& tokens_js, const val& options_js) {
    if (!loaded_) return Error(absl::FailedPreconditionError("engine: no model loaded"));
    auto options = ParseRoutingOptions(options_js);
    if (!options.ok()) return Error(options.status());
    auto session = engine::Session::Create(&model_, &experts_, *options);
    if (!session.ok()) return Error(session.status());
    std::vector<float> all;
    for (double t : emscripten::convertJSArrayToNumberVector<double>(tokens_js)) {
      auto logits = session->Step(static_cast<int64_t>(t));
      if (!logits.ok()) return Error(logits.status());
      all.insert(all.end(), logits->begin(), logits->end());
    }
    return Ok(Float32ArrayOf(all.data(), all.size()));
  }

 private:
  bool loaded_ = false;
  engine::LlamaModel model_;
  std::vector<engine::LoraExpert> experts_;
};

}  // namespace
}  // namespace libra::wasm

EMSCRIPTEN_BINDINGS(libra) {
  using namespace libra::wasm;
  emscripten::function("listMethods", &ListMethods);
  emscripten::function("inspectSafetensors", &InspectSafetensors);
  emscripten::function("readTensor", &ReadTensor);
  emscripten::function("mergeTensors", &MergeTensors);
  emscripten::function("mergeExperts", &MergeExperts);
  emscripten::function("timeMerge", &TimeMerge);
  emscripten::function("arrowPrototype", &ArrowPrototype);
  emscripten::function("route", &Route);
  emscripten::function("parseManifest", &ParseManifest);
  emscripten::function("clusterExperts", &ClusterExperts);
  emscripten::class_<Engine>("Engine")
      .constructor<>()
      .function("load", &Engine::Load)
      .function("addExpert", &Engine::AddExpert)
      .function("addLibraryExpert", &Engine::AddLibraryExpert)
      .function("clearExperts", &Engine::ClearExperts)
      .function("info", &Engine::Info)
      .function("generate", &Engine::Generate)
      .function("logits", &Engine::Logits);
}
