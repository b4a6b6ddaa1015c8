#include "src/core/merge/stream.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/core/io/safetensors.h"
#include "src/core/merge/expert_file.h"

namespace libra::merge {
namespace {

using Kind = ModuleDelta::Kind;

// What one module becomes: its mode and the tensors it is written as.
struct ModulePlan {
  std::string name;
  std::vector<const ModuleEntry*> entries;  // one per expert
  MergeOptions options;
  Kind out_kind = Kind::kDense;
  bool bare = false;  // written under its own name (a bias), not <m>.delta.weight
  Shape delta_shape;
  std::vector<SafetensorsStreamWriter::Spec> specs;
};

std::string Describe(const ExpertSource& source) {
  return absl::StrCat("expert \"", source.name, "\" (", source.path, ")");
}

int64_t Elements(const Shape& shape) { return NumElements(shape).value_or(0); }

// Union size of the experts' sparse masks: the merged nnz, from indices only.
absl::StatusOr<int64_t> UnionSize(const std::vector<ExpertFile>& files, const ModulePlan& plan) {
  std::vector<int64_t> all;
  for (size_t i = 0; i < files.size(); ++i) {
    absl::StatusOr<std::vector<int64_t>> indices = files[i].LoadIndices(*plan.entries[i]);
    if (!indices.ok()) return indices.status();
    all.insert(all.end(), indices->begin(), indices->end());
  }
  std::sort(all.begin(), all.end());
  return std::unique(all.begin(), all.end()) - all.begin();
}

absl::StatusOr<ModulePlan> PlanModule(const StreamMergeRequest& request,
                                      const std::vector<ExpertFile>& files,
                                      const ModuleEntry& first) {
  ModulePlan plan;
  plan.name = first.name;
  plan.delta_shape = first.delta_shape;
  bool all_lora = true, any_lora = false, all_sparse = true, all_bare = true;
  for (size_t i = 0; i < files.size(); ++i) {
    const ModuleEntry* entry = files[i].Find(first.name);
    if (entry == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(Describe(request.experts[i]),
                                                     " lacks module \"", first.name, "\" that ",
                                                     Describe(request.experts[0]), " has"));
    }
    if (entry->delta_shape != first.delta_shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module \"", first.name, "\": ", Describe(request.experts[i]), " has delta ",
          ShapeToString(entry->delta_shape), ", expected ", ShapeToString(first.delta_shape)));
    }
    plan.entries.push_back(entry);
    all_lora &= entry->kind == Kind::kLora;
    any_lora |= entry->kind == Kind::kLora;
    all_sparse &= entry->kind == Kind::kSparse;
    all_bare &= entry->kind == Kind::kDense && entry->tensors[0] == first.name;
  }
  const LoraMode mode = request.options.mode;
  int64_t out_rank = 0;
  if (mode == LoraMode::kAb && all_lora) {
    for (size_t i = 0; i < files.size(); ++i) {
      if (plan.entries[i]->rank != first.rank) {
        return absl::InvalidArgumentError(absl::StrCat(
            "module \"", first.name, "\": mode ab needs equal ranks; ",
            Describe(request.experts[i]), " has rank ", plan.entries[i]->rank, ", expected ",
            first.rank));
      }
    }
    plan.options = {LoraMode::kAb, 0};
    out_rank = first.rank;
  } else if (mode == LoraMode::kAb && any_lora) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module \"", first.name, "\": mode ab needs every expert to be a LoRA here"));
  } else if (mode == LoraMode::kSvd && first.delta_shape.size() == 2) {
    const int64_t limit = std::min(first.delta_shape[0], first.delta_shape[1]);
    if (request.options.rank > limit) {
      return absl::InvalidArgumentError(absl::StrCat("module \"", first.name, "\": rank ",
                                                     request.options.rank, " exceeds ", limit,
                                                     " for delta ",
                                                     ShapeToString(first.delta_shape)));
    }
    plan.options = request.options;
    out_rank = request.options.rank;
  }  // else: delta mode (also biases and other non-LoRA modules under ab/svd)
  if (out_rank > 0) {
    plan.out_kind = Kind::kLora;
    plan.specs = {{LoraATensorName(first.name), request.out_dtype, {out_rank, first.delta_shape[1]}},
                  {LoraBTensorName(first.name), request.out_dtype, {first.delta_shape[0], out_rank}}};
  } else if (request.method->family == Family::kSparseOverlap && all_sparse) {
    absl::StatusOr<int64_t> nnz = UnionSize(files, plan);
    if (!nnz.ok()) return nnz.status();
    plan.out_kind = Kind::kSparse;
    plan.specs = {{first.name + ".sparse.values", request.out_dtype, {*nnz}},
                  {first.name + ".sparse.indices", DType::kI64, {*nnz}},
                  {first.name + ".sparse.shape", DType::kI64,
                   {static_cast<int64_t>(first.delta_shape.size())}}};
  } else {
    plan.bare = all_bare;
    plan.specs = {{all_bare ? first.name : first.name + ".delta.weight", request.out_dtype,
                   first.delta_shape}};
  }
  return plan;
}

absl::Status WriteModule(const ModulePlan& plan, ModuleDelta merged,
                         SafetensorsStreamWriter* writer, int64_t* bytes) {
  switch (merged.kind) {
    case Kind::kLora: {
      // Fold the scale into B: merged LoRAs are written with scale 1.
      for (float& v : merged.lora.b.values()) v *= merged.lora.scale;
      if (absl::Status s = writer->Append(merged.lora.a); !s.ok()) return s;
      *bytes += 4 * (merged.lora.a.size() + merged.lora.b.size());
      return writer->Append(merged.lora.b);
    }
    case Kind::kSparse: {
      const int64_t nnz = static_cast<int64_t>(merged.sparse.values.size());
      if (absl::Status s = writer->Append(Tensor({nnz}, std::move(merged.sparse.values))); !s.ok()) {
        return s;
      }
      if (absl::Status s = writer->AppendInt64({{nnz}, std::move(merged.sparse.indices)}); !s.ok()) {
        return s;
      }
      *bytes += 12 * nnz;
      return writer->AppendInt64(
          {{static_cast<int64_t>(plan.delta_shape.size())}, plan.delta_shape});
    }
    case Kind::kDense:
      *bytes += 4 * merged.dense.size();
      return writer->Append(merged.dense);
  }
  return absl::InternalError("unreachable module kind");
}

}  // namespace

std::string ParametersJson(const MethodSpec& method, const MergeParams& params,
                           const MergeOptions& options) {
  nlohmann::json json;
  for (const ParamSpec& param : method.params) {
    const std::string name = param.name;
    if (name == "weight") json["weight"] = params.weights;
    if (name == "density") json["density"] = params.densities;
    if (name == "lambda") json["lambda"] = params.lambda;
    if (name == "beta") json["beta"] = params.beta;
    if (name == "seed") json["seed"] = params.seed;
    if (name == "normalize") json["normalize"] = params.normalize;
  }
  json["mode"] = LoraModeName(options.mode);
  if (options.mode == LoraMode::kSvd) json["rank"] = options.rank;
  return json.dump();
}

absl::StatusOr<StreamMergeReport> MergeExpertFiles(const StreamMergeRequest& request) {
  if (request.method == nullptr) return absl::InvalidArgumentError("no merge method given");
  if (request.experts.empty()) return absl::InvalidArgumentError("no experts to merge");
  if (absl::Status status = CheckMode(*request.method, request.options); !status.ok()) {
    return status;
  }
  if (request.params.weights.size() != request.experts.size()) {
    return absl::InvalidArgumentError(absl::StrCat(request.params.weights.size(),
                                                   " weights for ", request.experts.size(),
                                                   " experts"));
  }
  std::vector<ExpertFile> files;
  for (const ExpertSource& source : request.experts) {
    absl::StatusOr<ExpertFile> file =
        ExpertFile::Open(source.path, source.scaling ? &*source.scaling : nullptr);
    if (!file.ok()) {
      return absl::Status(file.status().code(), absl::StrCat(Describe(source), ": ",
                                                             file.status().message()));
    }
    files.push_back(*std::move(file));
  }
  for (size_t i = 1; i < files.size(); ++i) {
    for (const ModuleEntry& entry : files[i].modules()) {
      if (files[0].Find(entry.name) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(Describe(request.experts[i]),
                                                       " has module \"", entry.name, "\" that ",
                                                       Describe(request.experts[0]), " lacks"));
      }
    }
  }
  StreamMergeReport report;
  std::vector<ModulePlan> plans;
  std::vector<SafetensorsStreamWriter::Spec> specs;
  bool all_lora_out = !files[0].modules().empty();
  for (const ModuleEntry& entry : files[0].modules()) {
    absl::StatusOr<ModulePlan> plan = PlanModule(request, files, entry);
    if (!plan.ok()) return plan.status();
    int64_t module_bytes = 0;
    for (const ModuleEntry* input : plan->entries) {
      module_bytes += 4 * (input->kind == Kind::kLora
                               ? input->rank * (input->delta_shape[0] + input->delta_shape[1])
                               : input->kind == Kind::kSparse ? 3 * input->nnz
                                                              : Elements(input->delta_shape));
    }
    for (const auto& spec : plan->specs) module_bytes += 4 * Elements(spec.shape);
    report.peak_module_bytes = std::max(report.peak_module_bytes, module_bytes);
    all_lora_out &= plan->out_kind == Kind::kLora;
    if (!plan->bare) {
      const char* type = plan->out_kind == Kind::kLora     ? "lora"
                         : plan->out_kind == Kind::kSparse ? "sparse"
                                                           : "delta";
      report.adapter_type = report.adapter_type.empty() || report.adapter_type == type
                                ? type
                                : "mixed";
    }
    specs.insert(specs.end(), plan->specs.begin(), plan->specs.end());
    plans.push_back(*std::move(plan));
  }
  if (request.options.mode == LoraMode::kAb) {
    report.warnings.push_back(
        "mode ab averages LoRA A and B separately: the result is not the mean of the "
        "experts' deltas (use --mode delta or svd for that)");
  }
  std::map<std::string, std::string> metadata = request.metadata;
  std::vector<std::string> sources;
  for (const ExpertSource& source : request.experts) sources.push_back(source.name);
  metadata["merge_method"] = request.method->name;
  metadata["merge_mode"] = LoraModeName(request.options.mode);
  metadata["merge_parameters"] = ParametersJson(*request.method, request.params, request.options);
  metadata["merge_sources"] = absl::StrJoin(sources, ",");
  if (all_lora_out) metadata["lora_scale"] = "1";

  absl::StatusOr<SafetensorsStreamWriter> writer =
      SafetensorsStreamWriter::Create(request.out_path, std::move(specs), std::move(metadata));
  if (!writer.ok()) return writer.status();
  for (const ModulePlan& plan : plans) {
    std::vector<ModuleDelta> inputs;
    for (size_t i = 0; i < files.size(); ++i) {
      absl::StatusOr<ModuleDelta> input = files[i].Load(*plan.entries[i]);
      if (!input.ok()) return input.status();
      inputs.push_back(*std::move(input));
    }
    absl::StatusOr<ModuleDelta> merged =
        MergeModule(*request.method, request.params, plan.options, plan.name, inputs);
    if (!merged.ok()) return merged.status();
    inputs.clear();  // free the inputs before writing: one module in memory
    if (absl::Status status = WriteModule(plan, *std::move(merged), &*writer, &report.bytes_written);
        !status.ok()) {
      return status;
    }
    ++report.modules;
  }
  if (absl::Status status = writer->Commit(); !status.ok()) return status;
  report.lora_output = all_lora_out;
  return report;
}

}  // namespace libra::merge
