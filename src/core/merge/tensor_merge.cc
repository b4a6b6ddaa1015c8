#include "src/core/merge/tensor_merge.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace libra::merge {

absl::Status CheckSameShape(absl::Span<const DeltaView> views, absl::string_view method) {
  if (views.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("method \"", method, "\": no experts to merge"));
  }
  for (size_t i = 1; i < views.size(); ++i) {
    if (views[i].rows != views[0].rows || views[i].cols != views[0].cols) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "method \"%s\": expert %d: expected delta [%d, %d], got [%d, %d]", method, i,
          views[0].rows, views[0].cols, views[i].rows, views[i].cols));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> MergeTensors(const Tensor* base, absl::Span<const Tensor> experts,
                                    absl::string_view method, ViewsMergeFn merge) {
  if (experts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("method \"", method, "\": no experts to merge"));
  }
  const Shape& shape = base != nullptr ? base->shape() : experts[0].shape();
  for (size_t i = 0; i < experts.size(); ++i) {
    if (experts[i].shape() != shape) {
      return absl::InvalidArgumentError(
          absl::StrCat("method \"", method, "\": expert ", i, ": expected shape ",
                       ShapeToString(shape), ", got ", ShapeToString(experts[i].shape())));
    }
  }
  std::vector<Tensor> task_vectors;
  std::vector<DeltaView> views;
  views.reserve(experts.size());
  if (base != nullptr) {
    task_vectors.reserve(experts.size());
    for (const Tensor& expert : experts) {
      std::vector<float> delta(expert.size());
      for (int64_t j = 0; j < expert.size(); ++j) delta[j] = expert.at(j) - base->at(j);
      task_vectors.emplace_back(shape, std::move(delta));
      views.push_back(DeltaView::Dense(task_vectors.back()));
    }
  } else {
    for (const Tensor& expert : experts) views.push_back(DeltaView::Dense(expert));
  }
  Tensor out = Tensor::Zeros(shape);
  if (absl::Status status = merge(views, out.data()); !status.ok()) return status;
  if (base != nullptr) {
    for (int64_t j = 0; j < out.size(); ++j) out.at(j) += base->at(j);
  }
  return out;
}

}  // namespace libra::merge
