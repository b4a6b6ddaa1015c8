#include "src/core/merge/merge.h"

#include <deque>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/merge/delta_view.h"
#include "src/core/merge/linear.h"
#include "src/core/merge/task_arithmetic.h"

namespace libra::merge {
namespace {

using Kind = ModuleDelta::Kind;

bool IsLinearCombination(const MethodSpec& method) {
  return method.family == Family::kLinear ||
         (method.family == Family::kTaskArithmetic &&
          method.sparsification == Sparsification::kNone && method.consensus == Consensus::kNone);
}

// Linear coefficients including task arithmetic's lambda.
std::vector<double> Coefficients(const MethodSpec& method, const MergeParams& params) {
  return LinearCoefficients(params, method.family == Family::kLinear ? 1.0 : params.lambda);
}

// Dense merge of the experts' task vectors into out [rows, cols].
absl::Status MergeDense(const MethodSpec& method, const MergeParams& params,
                        absl::string_view module_name, absl::Span<const ModuleDelta> experts,
                        Tensor* out) {
  std::deque<Tensor> densified;  // sparse experts, alive while the views are
  std::vector<DeltaView> views;
  for (const ModuleDelta& expert : experts) {
    switch (expert.kind) {
      case Kind::kLora:
        views.push_back(DeltaView::Lora(expert.lora.a, expert.lora.b, expert.lora.scale));
        break;
      case Kind::kDense:
        views.push_back(DeltaView::Dense(expert.dense));
        break;
      case Kind::kSparse:
        densified.push_back(Densify(expert.sparse));
        views.push_back(DeltaView::Dense(densified.back()));
        break;
    }
  }
  switch (method.family) {
    case Family::kLinear:
      return MergeLinearViews(views, Coefficients(method, params), params.threads, out->data());
    case Family::kTaskArithmetic:
      return MergeTaskArithmeticViews(method, views, params,
                                      ModuleSeed(params.seed, std::string(module_name)),
                                      out->data());
    case Family::kSparseOverlap:
      return MergeSparseOverlapViews(views, params.threads, out->data());
  }
  return absl::InternalError("unreachable merge family");
}

}  // namespace

absl::StatusOr<LoraMode> ParseLoraMode(absl::string_view name) {
  if (name == "delta") return LoraMode::kDelta;
  if (name == "ab") return LoraMode::kAb;
  if (name == "svd") return LoraMode::kSvd;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown mode \"", name, "\" (known: delta, ab, svd)"));
}

const char* LoraModeName(LoraMode mode) {
  switch (mode) {
    case LoraMode::kDelta: return "delta";
    case LoraMode::kAb: return "ab";
    case LoraMode::kSvd: return "svd";
  }
  return "?";
}

Shape ModuleDelta::DeltaShape() const {
  switch (kind) {
    case Kind::kLora: return {lora.b.dim(0), lora.a.dim(1)};
    case Kind::kDense: return dense.shape();
    case Kind::kSparse: return sparse.shape;
  }
  return {};
}

absl::Status CheckMode(const MethodSpec& method, const MergeOptions& options) {
  if (options.mode == LoraMode::kAb && method.family != Family::kLinear) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mode ab works only with linear and uniform, not \"", method.name, "\""));
  }
  if (options.mode == LoraMode::kSvd && options.rank < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("mode svd needs --rank >= 1, got ", options.rank));
  }
  if (options.mode != LoraMode::kSvd && options.rank != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--rank applies only to mode svd, not ",
                                                   LoraModeName(options.mode)));
  }
  return absl::OkStatus();
}

bool AbModeWarning(const MergeOptions& options) { return options.mode == LoraMode::kAb; }

absl::StatusOr<ModuleDelta> MergeModule(const MethodSpec& method, const MergeParams& params,
                                        const MergeOptions& options,
                                        absl::string_view module_name,
                                        absl::Span<const ModuleDelta> experts) {
  if (absl::Status status = CheckMode(method, options); !status.ok()) return status;
  if (experts.empty() || params.weights.size() != experts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("module \"", module_name, "\": ",
                                                   params.weights.size(), " weights for ",
                                                   experts.size(), " experts"));
  }
  const Shape shape = experts[0].DeltaShape();
  bool all_lora = true, all_sparse = true;
  for (size_t i = 0; i < experts.size(); ++i) {
    if (experts[i].kind == Kind::kLora) {
      absl::Status status = CheckLoraShapes(
          experts[i].lora, absl::StrCat("module \"", module_name, "\": expert ", i));
      if (!status.ok()) return status;
    }
    if (experts[i].DeltaShape() != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module \"", module_name, "\": expert ", i, ": expected delta ",
          ShapeToString(shape), ", got ", ShapeToString(experts[i].DeltaShape())));
    }
    all_lora &= experts[i].kind == Kind::kLora;
    all_sparse &= experts[i].kind == Kind::kSparse;
  }
  ModuleDelta merged;
  if (options.mode == LoraMode::kAb || (options.mode == LoraMode::kSvd && all_lora &&
                                        IsLinearCombination(method))) {
    if (!all_lora) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module \"", module_name, "\": mode ab needs every expert to be a LoRA"));
    }
    std::vector<LoraFactors> loras;
    for (const ModuleDelta& expert : experts) loras.push_back(expert.lora);
    absl::StatusOr<LoraFactors> lora =
        options.mode == LoraMode::kAb
            ? AverageFactors(loras, Coefficients(method, params))
            : LowRankFromFactors(loras, Coefficients(method, params), options.rank);
    if (!lora.ok()) return lora.status();
    merged.kind = Kind::kLora;
    merged.lora = *std::move(lora);
    return merged;
  }
  if (method.family == Family::kSparseOverlap && all_sparse &&
      options.mode == LoraMode::kDelta) {
    std::vector<SparseDelta> sparse;
    for (const ModuleDelta& expert : experts) sparse.push_back(expert.sparse);
    absl::StatusOr<SparseDelta> result = MergeSparseOverlap(sparse);
    if (!result.ok()) return result.status();
    merged.kind = Kind::kSparse;
    merged.sparse = *std::move(result);
    return merged;
  }
  merged.dense = Tensor::Zeros(shape);
  absl::Status status = MergeDense(method, params, module_name, experts, &merged.dense);
  if (!status.ok()) return status;
  if (options.mode == LoraMode::kSvd) {
    absl::StatusOr<LoraFactors> lora =
        TruncatedSvd(merged.dense, options.rank,
                     ModuleSeed(params.seed, std::string(module_name)));
    if (!lora.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("module \"", module_name, "\": ", lora.status().message()));
    }
    merged.kind = Kind::kLora;
    merged.lora = *std::move(lora);
    merged.dense = Tensor();
  }
  return merged;
}

absl::StatusOr<Tensor> Merge(const MethodSpec& method, const Tensor* base,
                             absl::Span<const Tensor> experts, const MergeParams& params) {
  switch (method.family) {
    case Family::kLinear:
      return MergeLinear(base, experts, params);
    case Family::kTaskArithmetic:
      return MergeTaskArithmetic(method, base, experts, params);
    case Family::kSparseOverlap:
      return MergeSparseOverlapTensors(base, experts, params);
  }
  return absl::InternalError("unreachable merge family");
}

}  // namespace libra::merge
