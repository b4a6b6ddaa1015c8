#include "src/cli/model_session.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/core/status_macros.h"
#include "src/core/text/model_tokenizer.h"
#include "src/data/flan_jsonl_reader.h"
#include "absl/strings/numbers.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/expert.h"

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

absl::Status ApplyExperts(ModelSession& session, const std::vector<std::string>& files,
                          const std::vector<std::string>& weights, const std::string& mixing) {
  if (files.empty()) return absl::OkStatus();
  std::vector<std::vector<nn::ExpertModule>> experts;
  for (const std::string& file : files) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<nn::ExpertModule> expert, nn::LoadExpert(file));
    experts.push_back(std::move(expert));
  }
  if (experts.size() == 1) {
    absl::Status status = nn::ApplyExpert(*session.model, experts[0], /*trainable=*/false);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(files[0], ": ", status.message()));
  } else {
    if (mixing != "output" && mixing != "parameter") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown --mixing \"", mixing, "\" (known: output, parameter)"));
    }
    std::shared_ptr<nn::RouterImpl> router;
    if (weights.empty()) {
      router = std::make_shared<nn::UniformRouterImpl>();
    } else {
      if (weights.size() != files.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--weights has ", weights.size(),
                                                       " values for ", files.size(), " experts"));
      }
      std::vector<double> values;
      for (const std::string& w : weights) {
        double v = 0;
        if (!absl::SimpleAtod(w, &v)) {
          return absl::InvalidArgumentError(absl::StrCat("--weights: \"", w, "\" is not a number"));
        }
        values.push_back(v);
      }
      router = std::make_shared<nn::FixedRouterImpl>(values);
    }
    LIBRA_RETURN_IF_ERROR(nn::AttachMixture(
        *session.model, experts, router,
        mixing == "parameter" ? nn::MixingMode::kParameter : nn::MixingMode::kOutput));
  }
  return absl::OkStatus();
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
