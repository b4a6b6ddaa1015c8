#include "src/core/arrow/prototype.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "Eigen/Dense"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra::arrow {
namespace {

using MatrixXd = Eigen::MatrixXd;
using RowMajorFloat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::string Label(absl::string_view module) {
  return module.empty() ? std::string("LoRA module") : absl::StrCat("module \"", module, "\"");
}

bool AllFinite(const Tensor& t) {
  for (float v : t.values()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

absl::Status Validate(const Tensor& a, const Tensor& b, float scale, absl::string_view module) {
  if (a.rank() != 2 || a.dim(0) < 1 || a.dim(1) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        Label(module), ": lora_A must be [r, in] with r, in >= 1, got ", ShapeToString(a.shape())));
  }
  if (b.rank() != 2 || b.dim(0) < 1 || b.dim(1) != a.dim(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Label(module), ": lora_B must be [out, ", a.dim(0), "] to match lora_A ",
                     ShapeToString(a.shape()), ", got ", ShapeToString(b.shape())));
  }
  if (!std::isfinite(scale)) {
    return absl::InvalidArgumentError(absl::StrCat(Label(module), ": scale is not finite"));
  }
  if (!AllFinite(a) || !AllFinite(b)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Label(module), ": lora_A or lora_B holds NaN or Inf"));
  }
  return absl::OkStatus();
}

// R factor [p, cols] of the QR of `qr`'s matrix, p = min(rows, cols).
MatrixXd UpperFactor(const Eigen::HouseholderQR<MatrixXd>& qr) {
  const Eigen::Index p = std::min(qr.rows(), qr.cols());
  return qr.matrixQR().topRows(p).triangularView<Eigen::Upper>();
}

// Q [rows, p] times `small` [p]: applies the Householder reflectors to the
// zero-padded vector, O(rows * cols), without forming Q.
Eigen::VectorXd ApplyQ(const Eigen::HouseholderQR<MatrixXd>& qr, const Eigen::VectorXd& small) {
  Eigen::VectorXd padded = Eigen::VectorXd::Zero(qr.rows());
  padded.head(small.size()) = small;
  return qr.householderQ() * padded;
}

}  // namespace

int CanonicalizeSign(float* vector, int64_t size) {
  int64_t best = 0;
  for (int64_t i = 1; i < size; ++i) {
    if (std::fabs(vector[i]) > std::fabs(vector[best])) best = i;
  }
  if (size == 0 || vector[best] >= 0.0f) return 1;
  for (int64_t i = 0; i < size; ++i) vector[i] = -vector[i];
  return -1;
}

absl::StatusOr<SingularTriplets> TopSingularTriplets(const Tensor& lora_a, const Tensor& lora_b,
                                                     float scale, int k,
                                                     absl::string_view module) {
  if (absl::Status s = Validate(lora_a, lora_b, scale, module); !s.ok()) return s;
  const int64_t rank = lora_a.dim(0);
  const int64_t in = lora_a.dim(1);
  const int64_t out = lora_b.dim(0);
  const int64_t max_k = std::min({rank, in, out});
  if (k < 1 || k > max_k) {
    return absl::InvalidArgumentError(absl::StrCat(Label(module), ": k must be in [1, ", max_k,
                                                   "] (min of r, in, out), got ", k));
  }

  const MatrixXd a_t =
      Eigen::Map<const RowMajorFloat>(lora_a.data(), rank, in).cast<double>().transpose();
  const MatrixXd b = Eigen::Map<const RowMajorFloat>(lora_b.data(), out, rank).cast<double>();
  // Only the R factors are formed; Qa and Qb are applied to the k small
  // singular vectors at the end, so no [in, r] or [out, r] Q is built.
  const Eigen::HouseholderQR<MatrixXd> qr_a(a_t);  // A^T = Qa Ra
  const Eigen::HouseholderQR<MatrixXd> qr_b(b);    // B = Qb Rb
  const MatrixXd core = static_cast<double>(scale) * UpperFactor(qr_b) * UpperFactor(qr_a).transpose();
  Eigen::JacobiSVD<MatrixXd> svd(core, Eigen::ComputeFullU | Eigen::ComputeFullV);

  SingularTriplets result;
  result.values.resize(k);
  result.right = Tensor::Zeros({k, in});
  result.left = Tensor::Zeros({k, out});
  for (int j = 0; j < k; ++j) {
    result.values[j] = static_cast<float>(svd.singularValues()(j));
    const Eigen::VectorXd right = ApplyQ(qr_a, svd.matrixV().col(j));
    const Eigen::VectorXd left = ApplyQ(qr_b, svd.matrixU().col(j));
    float* right_row = result.right.data() + j * in;
    float* left_row = result.left.data() + j * out;
    for (int64_t i = 0; i < in; ++i) right_row[i] = static_cast<float>(right(i));
    for (int64_t i = 0; i < out; ++i) left_row[i] = static_cast<float>(left(i));
    if (CanonicalizeSign(right_row, in) < 0) {
      for (int64_t i = 0; i < out; ++i) left_row[i] = -left_row[i];
    }
  }
  return result;
}

absl::StatusOr<Tensor> TopRightSingularVector(const Tensor& lora_a, const Tensor& lora_b,
                                              float scale, absl::string_view module) {
  absl::StatusOr<SingularTriplets> triplets =
      TopSingularTriplets(lora_a, lora_b, scale, /*k=*/1, module);
  if (!triplets.ok()) return triplets.status();
  return Tensor({lora_a.dim(1)}, std::move(triplets->right.values()));
}

}  // namespace libra::arrow
