// Embind bindings of the core for the browser and Node (see libra_api.js,
// which wraps them into a JavaScript-native API).
//
// Every function returns a plain JS object; on failure it is
// {error: "<CODE>: <core message>"}, which libra_api.js turns into a thrown
// LibraError. No C++ exception crosses into JavaScript (the core throws
// none, and the build keeps exceptions off).
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/arrow/prototype.h"
#include "src/core/arrow/router.h"
#include "src/core/engine/config.h"
#include "src/core/engine/lora.h"
#include "src/core/engine/model.h"
#include "src/core/io/safetensors.h"
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
// returns the merged file's bytes and the report.
val MergeExperts(const std::string& method_name, const std::string& params_json, const val& names,
                 const val& images, const std::string& mode) {
  auto method = merge::FindMethod(method_name);
  if (!method.ok()) return Error(method.status());
  auto args = ParseArguments(params_json);
  if (!args.ok()) return Error(args.status());
  const int n = images["length"].as<int>();
  auto params = merge::BindParams(**method, *args, n);
  if (!params.ok()) return Error(params.status());
  merge::StreamMergeRequest request;
  request.method = *method;
  request.params = *params;
  auto lora_mode = merge::ParseLoraMode(mode);
  if (!lora_mode.ok()) return Error(lora_mode.status());
  request.options.mode = *lora_mode;
  for (int i = 0; i < n; ++i) {
    const std::string path = absl::StrCat("/tmp/libra_expert_", i, ".safetensors");
    const std::string bytes = BytesFromJs(images[i]);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return Error(absl::InternalError("cannot write to the in-memory file system"));
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    request.experts.push_back({names[i].as<std::string>(), path});
  }
  request.out_path = "/tmp/libra_merged.safetensors";
  auto report = merge::MergeExpertFiles(request);
  for (const auto& expert : request.experts) std::remove(expert.path.c_str());
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
    engine::RoutingOptions options;
    auto get = [&](const char* key, double fallback) {
      val v = options_js[key];
      return v.isUndefined() || v.isNull() ? fallback : v.as<double>();
    };
    options.top_k = static_cast<int>(get("topK", 4));
    options.temperature = static_cast<float>(get("temperature", 1));
    val mode = options_js["mode"];
    if (!mode.isUndefined() && mode.as<std::string>() == "uniform") {
      options.mode = engine::RoutingOptions::Mode::kUniform;
    } else if (!mode.isUndefined() && mode.as<std::string>() != "arrow") {
      return Error(absl::InvalidArgumentError(
          absl::StrCat("routing mode must be \"arrow\" or \"uniform\", got \"", mode.as<std::string>(), "\"")));
    }
    val mixing = options_js["parameterMixing"];
    options.parameter_mixing = !mixing.isUndefined() && mixing.as<bool>();
    auto session = engine::Session::Create(&model_, &experts_, options);
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

  // Logits of every position of `tokens` (tests compare them with native).
  val Logits(const val& tokens_js, const val& options_js) {
    if (!loaded_) return Error(absl::FailedPreconditionError("engine: no model loaded"));
    engine::RoutingOptions options;
    val top_k = options_js["topK"];
    if (!top_k.isUndefined()) options.top_k = top_k.as<int>();
    auto session = engine::Session::Create(&model_, &experts_, options);
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
  emscripten::class_<Engine>("Engine")
      .constructor<>()
      .function("load", &Engine::Load)
      .function("addExpert", &Engine::AddExpert)
      .function("clearExperts", &Engine::ClearExperts)
      .function("info", &Engine::Info)
      .function("generate", &Engine::Generate)
      .function("logits", &Engine::Logits);
}
