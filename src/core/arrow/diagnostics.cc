#include "src/core/arrow/diagnostics.h"

#include <cmath>
#include <string>

#include "Eigen/Dense"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra::arrow {

absl::StatusOr<double> InitSpanEnergy(const Tensor& prototype, const Tensor& initial_a,
                                      absl::string_view module) {
  const std::string label =
      module.empty() ? std::string("LoRA module") : absl::StrCat("module \"", module, "\"");
  if (initial_a.rank() != 2 || initial_a.dim(0) < 1 || initial_a.dim(1) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": initial lora_A must be [r, in], got ",
                                                   ShapeToString(initial_a.shape())));
  }
  const int64_t rank = initial_a.dim(0);
  const int64_t in = initial_a.dim(1);
  if (prototype.size() != in || prototype.rank() > 2) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": prototype must be [", in,
                                                   "] to match initial lora_A, got ",
                                                   ShapeToString(prototype.shape())));
  }
  using RowMajorFloat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::MatrixXd a0_t =
      Eigen::Map<const RowMajorFloat>(initial_a.data(), rank, in).cast<double>().transpose();
  const Eigen::VectorXd p = Eigen::Map<const Eigen::VectorXf>(prototype.data(), in).cast<double>();
  const double norm_sq = p.squaredNorm();
  if (!std::isfinite(norm_sq) || !a0_t.allFinite()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": NaN or Inf in prototype or lora_A"));
  }
  if (norm_sq == 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": prototype is the zero vector"));
  }
  // Column-pivoted QR finds the numerical rank, so duplicate rows of A0 do
  // not inflate the basis.
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(a0_t);
  const Eigen::Index span_rank = qr.rank();
  if (span_rank == 0) return 0.0;
  const Eigen::MatrixXd basis = qr.householderQ() * Eigen::MatrixXd::Identity(in, span_rank);
  return (basis.transpose() * p).squaredNorm() / norm_sq;
}

}  // namespace libra::arrow
