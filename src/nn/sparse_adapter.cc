#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/sparse_adapter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace libra::nn {
namespace F = torch::nn::functional;

absl::StatusOr<MaskScope> ParseMaskScope(const std::string& name) {
  if (name == "layer") return MaskScope::kLayer;
  if (name == "global") return MaskScope::kGlobal;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown mask scope \"", name, "\" (known: layer, global)"));
}

absl::Status CheckSparseOptions(const SparseOptions& options) {
  if (!(options.keep_ratio > 0 && options.keep_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse keep_ratio must be in (0, 1], got ", options.keep_ratio));
  }
  if (options.block_size != 1 && options.block_size != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse mask block size must be 1 or 16, got ", options.block_size));
  }
  if (options.update_every < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse mask update_every must be >= 0, got ", options.update_every));
  }
  if (options.calibration_batches < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sparse mask calibration_batches must be >= 1, got ", options.calibration_batches));
  }
  return absl::OkStatus();
}

SparseAdapterImpl::SparseAdapterImpl(int64_t in, int64_t out)
    : in_features(in), out_features(out) {
  values = register_parameter("values", torch::zeros({0}));
  indices = register_buffer("indices", torch::zeros({0}, torch::kInt64));
}

torch::Tensor SparseAdapterImpl::Forward(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& bias) {
  if (scoring_) {
    if (!scoring_weight_.defined()) {
      torch::NoGradGuard no_grad;
      scoring_weight_ = (weight + DeltaWeight().to(weight.dtype())).detach().clone();
      scoring_weight_.set_requires_grad(true);
    }
    return F::linear(x, scoring_weight_, bias);
  }
  const torch::Tensor effective =
      weight.reshape({-1}).index_add(0, indices, values.to(weight.dtype())).view_as(weight);
  return F::linear(x, effective, bias);
}

torch::Tensor SparseAdapterImpl::DeltaWeight() {
  return torch::zeros({out_features * in_features}, values.options())
      .index_add(0, indices, values)
      .view({out_features, in_features});
}

torch::Tensor SparseAdapterImpl::SetMask(const torch::Tensor& new_indices_in) {
  torch::NoGradGuard no_grad;
  const torch::Tensor new_indices =
      std::get<0>(new_indices_in.to(indices.device(), torch::kInt64).sort());
  torch::Tensor source = torch::full({new_indices.numel()}, -1, new_indices.options());
  torch::Tensor new_values = torch::zeros({new_indices.numel()}, values.options());
  if (indices.numel() > 0 && new_indices.numel() > 0) {
    const torch::Tensor position =
        torch::searchsorted(indices, new_indices).clamp_max(indices.numel() - 1);
    const torch::Tensor found = indices.index_select(0, position).eq(new_indices);
    source = torch::where(found, position, source);
    new_values = torch::where(found, values.detach().index_select(0, position), new_values);
  }
  indices.set_data(new_indices);
  values.set_data(new_values);
  values.mutable_grad() = torch::Tensor();
  has_mask_ = true;
  return source;
}

void SparseAdapterImpl::SetEntries(const torch::Tensor& new_indices, const torch::Tensor& new_values) {
  torch::NoGradGuard no_grad;
  const auto [sorted, order] = new_indices.to(indices.device(), torch::kInt64).sort();
  indices.set_data(sorted);
  values.set_data(new_values.to(values.device(), values.scalar_type()).index_select(0, order));
  values.mutable_grad() = torch::Tensor();
  has_mask_ = true;
}

void SparseAdapterImpl::BeginScoring() {
  scoring_ = true;
  scoring_weight_ = torch::Tensor();
}

torch::Tensor SparseAdapterImpl::EndScoring() {
  scoring_ = false;
  torch::Tensor score;
  if (scoring_weight_.defined() && scoring_weight_.grad().defined()) {
    score = (scoring_weight_.grad() * scoring_weight_.detach()).abs().to(torch::kFloat32);
  } else {
    score = torch::zeros({out_features, in_features}, values.options());
  }
  scoring_weight_ = torch::Tensor();
  return score;
}

namespace {

// Per-unit scores of one module ([units]) and, for blocks, each entry's
// block ([out * in]).
struct UnitScores {
  torch::Tensor units;
  torch::Tensor block_of_entry;  // undefined for single entries
};

UnitScores ToUnits(const torch::Tensor& score, int64_t block) {
  UnitScores out;
  const torch::Tensor s = score.to(torch::kFloat64);
  if (block == 1) {
    out.units = s.reshape({-1});
    return out;
  }
  const int64_t rows = s.size(0), cols = s.size(1);
  const int64_t block_rows = (rows + block - 1) / block, block_cols = (cols + block - 1) / block;
  const torch::Tensor padded =
      F::pad(s, F::PadFuncOptions({0, block_cols * block - cols, 0, block_rows * block - rows}));
  out.units = padded.view({block_rows, block, block_cols, block}).sum({1, 3}).reshape({-1});
  const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(s.device());
  const torch::Tensor row_block = torch::arange(rows, opts).div(block, "floor");
  const torch::Tensor col_block = torch::arange(cols, opts).div(block, "floor");
  out.block_of_entry = (row_block.unsqueeze(1) * block_cols + col_block.unsqueeze(0)).reshape({-1});
  return out;
}

// Top `k` of `units` (ties to the lower position) as a boolean mask.
torch::Tensor TopMask(const torch::Tensor& units, int64_t k) {
  const torch::Tensor order =
      std::get<1>(torch::sort(units, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  torch::Tensor keep = torch::zeros({units.numel()}, units.options().dtype(torch::kBool));
  keep.index_fill_(0, order.slice(0, 0, k), true);
  return keep;
}

int64_t KeepCount(double ratio, int64_t units) {
  return std::clamp<int64_t>(std::llround(ratio * static_cast<double>(units)), 1, units);
}

torch::Tensor EntriesOf(const UnitScores& unit, const torch::Tensor& keep_units) {
  const torch::Tensor keep_entries =
      unit.block_of_entry.defined() ? keep_units.index_select(0, unit.block_of_entry) : keep_units;
  return keep_entries.nonzero().reshape({-1});
}

}  // namespace

std::vector<torch::Tensor> SelectMasks(const std::vector<torch::Tensor>& scores,
                                       const SparseOptions& options) {
  torch::NoGradGuard no_grad;
  std::vector<UnitScores> units;
  for (const torch::Tensor& score : scores) units.push_back(ToUnits(score, options.block_size));
  std::vector<torch::Tensor> masks;
  if (options.scope == MaskScope::kLayer) {
    for (const UnitScores& unit : units) {
      const torch::Tensor keep = TopMask(unit.units, KeepCount(options.keep_ratio, unit.units.numel()));
      masks.push_back(EntriesOf(unit, keep));
    }
    return masks;
  }
  std::vector<torch::Tensor> all;
  for (const UnitScores& unit : units) all.push_back(unit.units);
  const torch::Tensor joined = torch::cat(all);
  const torch::Tensor keep = TopMask(joined, KeepCount(options.keep_ratio, joined.numel()));
  int64_t offset = 0;
  for (const UnitScores& unit : units) {
    const int64_t n = unit.units.numel();
    masks.push_back(EntriesOf(unit, keep.slice(0, offset, offset + n)));
    offset += n;
  }
  return masks;
}

std::vector<std::pair<std::string, std::shared_ptr<SparseAdapterImpl>>> SparseAdapters(
    CausalLMImpl& model) {
  std::vector<std::pair<std::string, std::shared_ptr<SparseAdapterImpl>>> out;
  for (auto& [name, linear] : model.Linears()) {
    if (auto sparse = std::dynamic_pointer_cast<SparseAdapterImpl>(linear->adapter())) {
      out.emplace_back(name, sparse);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

absl::StatusOr<ParameterRemap> UpdateSparseMasks(
    CausalLMImpl& model, const SparseOptions& options,
    const std::function<torch::Tensor(int64_t)>& calibration_loss) {
  if (absl::Status s = CheckSparseOptions(options); !s.ok()) return s;
  auto adapters = SparseAdapters(model);
  if (adapters.empty()) {
    return absl::FailedPreconditionError("no sparse adapter is attached to the model");
  }
  for (auto& [name, adapter] : adapters) adapter->BeginScoring();
  std::vector<torch::Tensor> scores;
  try {
    for (int64_t i = 0; i < options.calibration_batches; ++i) {
      (calibration_loss(i) / static_cast<double>(options.calibration_batches)).backward();
    }
  } catch (const c10::Error& e) {
    for (auto& [name, adapter] : adapters) adapter->EndScoring();
    return absl::InternalError(absl::StrCat("sparse mask scoring failed: ", e.what_without_backtrace()));
  }
  for (auto& [name, adapter] : adapters) scores.push_back(adapter->EndScoring());
  const std::vector<torch::Tensor> masks = SelectMasks(scores, options);
  ParameterRemap remap;
  for (size_t i = 0; i < adapters.size(); ++i) {
    remap[adapters[i].first + ".adapter.values"] = adapters[i].second->SetMask(masks[i]);
  }
  return remap;
}

BeforeStepHook SparseMaskSchedule(CausalLMImpl& model, const SparseOptions& options) {
  return [&model, options](const StepContext& context) -> absl::StatusOr<ParameterRemap> {
    bool unmasked = false;
    for (auto& [name, adapter] : SparseAdapters(model)) unmasked |= !adapter->has_mask();
    const bool recompute = options.update_every > 0 && context.step < context.steps_per_epoch &&
                           context.step % options.update_every == 0;
    if (!unmasked && !recompute) return ParameterRemap{};
    return UpdateSparseMasks(model, options, context.micro_batch_loss);
  };
}

}  // namespace libra::nn
