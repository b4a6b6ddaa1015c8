#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/cli/model_session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/flags/flag.h"
#include "src/cli/common_flags.h"
#include "src/core/status_macros.h"
#include "src/core/text/model_tokenizer.h"
#include "src/data/flan_jsonl_reader.h"
#include "absl/strings/numbers.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/convert.h"
#include "src/nn/expert.h"
#include "src/nn/mope.h"
#include "src/core/library/expert_library.h"

namespace libra::cli {
namespace {

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

}  // namespace

absl::StatusOr<ModelSession> LoadModelSession(const std::string& base_dir,
                                              const std::string& device) {
  if (base_dir.empty()) return absl::InvalidArgumentError("--base (the model folder) is required");
  if (!Exists(base_dir)) return absl::NotFoundError(absl::StrCat("no such model folder ", base_dir));
  ModelSession session;
  LIBRA_ASSIGN_OR_RETURN(session.device, nn::ParseDevice(device));
  LIBRA_ASSIGN_OR_RETURN(session.model, nn::LoadCheckpoint(base_dir, session.device));
  LIBRA_ASSIGN_OR_RETURN(session.tokenizer, text::LoadModelTokenizer(base_dir));
  LIBRA_RETURN_IF_ERROR(
      text::CheckTokenizerFitsModel(*session.tokenizer, session.model->config().vocab_size, base_dir));
  if (session.device.is_cuda()) session.model->SetComputeDtype(torch::kBFloat16);
  return session;
}

namespace {

// A library expert with its LoRA scales from the manifest (file metadata may
// lack them, e.g. per-module alphas of a PEFT import).
absl::StatusOr<std::vector<nn::ExpertModule>> LibraryExpert(const ExpertLibrary& library,
                                                            const std::string& name) {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, library.Show(name));
  if (record.type != AdapterType::kLora) {
    return nn::LoadExpert(library.PathOf(record.file_name));
  }
  LIBRA_ASSIGN_OR_RETURN(ExpertWeights weights, library.LoadExpert(name));
  std::vector<nn::ExpertModule> modules;
  for (const auto& [module, lora] : weights.lora) {
    nn::ExpertModule m;
    m.module = module;
    m.lora_a = nn::ToTorch(lora.a);
    m.lora_b = nn::ToTorch(lora.b);
    m.scale = lora.scale;
    modules.push_back(std::move(m));
  }
  return modules;
}

struct LoadedExperts {
  std::vector<std::string> names;
  std::vector<std::vector<nn::ExpertModule>> modules;
  std::optional<ExpertLibrary> library;
};

absl::StatusOr<LoadedExperts> LoadSelectedExperts(const ExpertSelection& selection) {
  LoadedExperts out;
  if (selection.library.empty()) {
    if (!selection.experts.empty() || selection.all) {
      return absl::InvalidArgumentError("--experts and --all choose experts of a --library DIR");
    }
    for (const std::string& file : selection.files) {
      LIBRA_ASSIGN_OR_RETURN(std::vector<nn::ExpertModule> expert, nn::LoadExpert(file));
      out.names.push_back(file);
      out.modules.push_back(std::move(expert));
    }
    return out;
  }
  if (!selection.files.empty()) {
    return absl::InvalidArgumentError("give experts as --expert_file FILES or --library DIR, not both");
  }
  if (selection.all == !selection.experts.empty()) {
    return absl::InvalidArgumentError("--library DIR needs exactly one of --experts a,b,... and --all");
  }
  LIBRA_ASSIGN_OR_RETURN(ExpertLibrary library, ExpertLibrary::Open(selection.library));
  if (selection.all) {
    for (const ExpertRecord& record : library.List()) out.names.push_back(record.name);
  } else {
    out.names = selection.experts;
  }
  if (out.names.empty()) return absl::InvalidArgumentError(absl::StrCat("no experts in ", selection.library));
  for (const std::string& name : out.names) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<nn::ExpertModule> expert, LibraryExpert(library, name));
    out.modules.push_back(std::move(expert));
  }
  out.library = std::move(library);
  return out;
}

absl::StatusOr<std::shared_ptr<nn::RouterImpl>> FixedOrUniformRouter(const ExpertSelection& selection,
                                                                     size_t experts) {
  if (selection.router == "uniform" || (selection.router.empty() && selection.weights.empty())) {
    if (!selection.weights.empty()) return absl::InvalidArgumentError("--weights needs --router weights");
    return std::make_shared<nn::UniformRouterImpl>();
  }
  if (selection.weights.size() != experts) {
    return absl::InvalidArgumentError(
        absl::StrCat("--weights has ", selection.weights.size(), " values for ", experts, " experts"));
  }
  std::vector<double> values;
  for (const std::string& w : selection.weights) {
    double v = 0;
    if (!absl::SimpleAtod(w, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("--weights: \"", w, "\" is not a number"));
    }
    values.push_back(v);
  }
  return std::make_shared<nn::FixedRouterImpl>(values);
}

// Arrow's prototypes: the library's stored ones when current, else computed
// here (and said so: `libra arrow DIR` stores them).
absl::StatusOr<nn::PrototypeMap> ArrowPrototypes(const LoadedExperts& experts) {
  if (experts.library) {
    absl::StatusOr<nn::PrototypeMap> stored = nn::LoadArrowPrototypes(*experts.library, experts.names);
    if (stored.ok() || stored.status().code() != absl::StatusCode::kFailedPrecondition) return stored;
    std::fprintf(stderr, "libra: note: %s; computing Arrow prototypes in memory (`libra arrow %s` stores them)\n",
                 std::string(stored.status().message()).c_str(), experts.library->dir().c_str());
  }
  return nn::ComputeArrowPrototypes(experts.modules);
}

// A mixture file of `libra train --type mope` routes itself: it is attached
// with its trained routers, or with every route replaced by 1/E under
// --router uniform (the uniform-average evaluation). nullopt when the
// selection holds no mixture file.
absl::StatusOr<std::optional<AppliedExperts>> ApplyMopeFile(ModelSession& session,
                                                            const ExpertSelection& selection) {
  std::optional<std::string> mixture;
  for (const std::string& file : selection.files) {
    LIBRA_ASSIGN_OR_RETURN(bool is_mope, nn::IsMopeFile(file));
    if (is_mope) mixture = file;
  }
  if (!mixture) return std::nullopt;
  if (selection.files.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        *mixture, ": a mixture file (libra train --type mope) is applied alone, not with other experts"));
  }
  if (!selection.router.empty() && selection.router != "uniform") {
    return absl::InvalidArgumentError(absl::StrCat(
        *mixture, ": a mixture file routes with its own trained routers; --router uniform "
                  "replaces them by the uniform average, --router ", selection.router, " does not apply"));
  }
  if (!selection.weights.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(*mixture, ": --weights does not apply to a mixture file"));
  }
  LIBRA_ASSIGN_OR_RETURN(nn::Mope mope, nn::LoadMope(*session.model, *mixture));
  mope.context->uniform = selection.router == "uniform";
  return AppliedExperts{{*mixture}, nullptr};
}

}  // namespace

absl::StatusOr<AppliedExperts> ApplyExperts(ModelSession& session, const ExpertSelection& selection) {
  static const char* kRouters[] = {"", "uniform", "weights", "arrow"};
  if (std::find(std::begin(kRouters), std::end(kRouters), selection.router) == std::end(kRouters)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --router \"", selection.router, "\" (known: uniform, weights, arrow)"));
  }
  if (selection.mixing != "output" && selection.mixing != "parameter") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --mixing \"", selection.mixing, "\" (known: output, parameter)"));
  }
  LIBRA_ASSIGN_OR_RETURN(std::optional<AppliedExperts> mixture, ApplyMopeFile(session, selection));
  if (mixture) return *std::move(mixture);
  LIBRA_ASSIGN_OR_RETURN(LoadedExperts experts, LoadSelectedExperts(selection));
  AppliedExperts applied{experts.names, nullptr};
  if (experts.modules.empty()) {
    if (!selection.router.empty()) return absl::InvalidArgumentError("--router needs experts to route");
    return applied;
  }
  if (experts.modules.size() == 1 && selection.router.empty()) {
    absl::Status status = nn::ApplyExpert(*session.model, experts.modules[0], /*trainable=*/false);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(experts.names[0], ": ", status.message()));
    return applied;
  }
  // Foreign experts are refused by name before any router or prototype.
  LIBRA_RETURN_IF_ERROR(nn::CheckMixtureFitsModel(*session.model, experts.modules, experts.names));
  const nn::MixingMode mode = selection.mixing == "parameter" ? nn::MixingMode::kParameter : nn::MixingMode::kOutput;
  if (selection.router != "arrow") {
    LIBRA_ASSIGN_OR_RETURN(std::shared_ptr<nn::RouterImpl> router,
                           FixedOrUniformRouter(selection, experts.modules.size()));
    LIBRA_RETURN_IF_ERROR(nn::AttachMixture(*session.model, experts.modules, router, mode));
    return applied;
  }
  if (selection.top_k < 1) return absl::InvalidArgumentError("--top_k must be at least 1");
  if (!selection.weights.empty()) return absl::InvalidArgumentError("--weights needs --router weights");
  LIBRA_ASSIGN_OR_RETURN(nn::PrototypeMap prototypes, ArrowPrototypes(experts));
  nn::ArrowOptions options;
  options.top_k = selection.top_k;
  applied.recorder = std::make_shared<nn::RoutingRecorder>();
  LIBRA_RETURN_IF_ERROR(
      nn::AttachArrow(*session.model, experts.modules, prototypes, options, mode, applied.recorder).status());
  return applied;
}

ExpertSelection ExpertSelectionFromFlags() {
  ExpertSelection selection;
  selection.files = absl::GetFlag(FLAGS_expert_file);
  selection.library = absl::GetFlag(FLAGS_library);
  selection.experts = absl::GetFlag(FLAGS_experts);
  selection.all = absl::GetFlag(FLAGS_all);
  selection.router = absl::GetFlag(FLAGS_router);
  selection.weights = absl::GetFlag(FLAGS_weights);
  selection.mixing = absl::GetFlag(FLAGS_mixing);
  if (absl::GetFlag(FLAGS_top_k) != 0) selection.top_k = absl::GetFlag(FLAGS_top_k);
  return selection;
}

absl::StatusOr<std::vector<data::FlanExample>> ReadExamples(const std::string& path,
                                                            const std::vector<std::string>& tasks,
                                                            const std::string& split) {
  if (path.empty()) return absl::InvalidArgumentError("--data (a JSONL file) is required");
  LIBRA_ASSIGN_OR_RETURN(std::vector<data::FlanExample> all, data::ReadFlanJsonl(path));
  std::vector<data::FlanExample> out;
  for (auto& example : all) {
    if (!split.empty() && example.split != split) continue;
    if (!tasks.empty() && std::find(tasks.begin(), tasks.end(), example.task_name) == tasks.end()) {
      continue;
    }
    out.push_back(std::move(example));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no examples", tasks.empty() ? "" : absl::StrCat(" of task(s) ", absl::StrJoin(tasks, ",")),
        split.empty() ? "" : absl::StrCat(" in split ", split)));
  }
  return out;
}

}  // namespace libra::cli
