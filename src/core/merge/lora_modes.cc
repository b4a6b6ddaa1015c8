#include "src/core/merge/lora_modes.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/merge/delta_view.h"
#include "src/core/merge/parallel.h"

namespace libra::merge {
namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMapF = Eigen::Map<const MatrixF>;

constexpr int64_t kOversampling = 10;
constexpr int kPowerIterations = 2;

// Orthonormal basis of the columns of m (thin Q of a Householder QR).
MatrixD ThinQ(const MatrixD& m) {
  Eigen::HouseholderQR<MatrixD> qr(m);
  return qr.householderQ() * MatrixD::Identity(m.rows(), std::min(m.rows(), m.cols()));
}

// B = U_r sqrt(S_r), A = sqrt(S_r) V_r^T, zero-padded to `rank` components.
LoraFactors FactorsFromSvd(const MatrixD& u, const Eigen::VectorXd& s, const MatrixD& v,
                           int64_t rank) {
  const int64_t out = u.rows(), in = v.rows();
  const int64_t kept = std::min<int64_t>(rank, s.size());
  LoraFactors lora{Tensor::Zeros({rank, in}), Tensor::Zeros({out, rank}), 1.0f};
  for (int64_t k = 0; k < kept; ++k) {
    const double root = std::sqrt(std::max(0.0, s(k)));
    for (int64_t r = 0; r < out; ++r) lora.b.at(r * rank + k) = static_cast<float>(u(r, k) * root);
    for (int64_t c = 0; c < in; ++c) lora.a.at(k * in + c) = static_cast<float>(root * v(c, k));
  }
  return lora;
}

absl::Status CheckRank(int64_t rank, int64_t out, int64_t in) {
  if (rank < 1 || rank > std::min(out, in)) {
    return absl::InvalidArgumentError(absl::StrCat("svd: rank ", rank, " outside [1, ",
                                                   std::min(out, in), "] for a delta [", out,
                                                   ", ", in, "]"));
  }
  return absl::OkStatus();
}

// Standard normal draws from a splitmix64 stream (Box-Muller): the same
// numbers on every platform, unlike std::normal_distribution.
double Gaussian(uint64_t* state) {
  auto next_uniform = [state] {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (static_cast<double>(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  };
  const double u1 = next_uniform(), u2 = next_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

absl::Status CheckLoraShapes(const LoraFactors& lora, absl::string_view label) {
  if (lora.a.rank() != 2 || lora.b.rank() != 2 || lora.a.dim(0) < 1 ||
      lora.b.dim(1) != lora.a.dim(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        label, ": LoRA A ", ShapeToString(lora.a.shape()), " and B ",
        ShapeToString(lora.b.shape()), " are not [r, in] and [out, r]"));
  }
  return absl::OkStatus();
}

Tensor LoraDelta(const LoraFactors& lora, int threads) {
  const DeltaView view = DeltaView::Lora(lora.a, lora.b, lora.scale);
  Tensor delta = Tensor::Zeros({view.rows, view.cols});
  const int64_t block_rows = RowsPerBlock(view.cols, 1 << 15);
  ParallelFor((view.rows + block_rows - 1) / block_rows, threads, [&](int64_t block) {
    const int64_t begin = block * block_rows, end = std::min(view.rows, begin + block_rows);
    view.Rows(begin, end, delta.data() + begin * view.cols);
  });
  return delta;
}

absl::StatusOr<LoraFactors> AverageFactors(absl::Span<const LoraFactors> loras,
                                           absl::Span<const double> coefficients) {
  if (loras.empty() || coefficients.size() != loras.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ab: ", coefficients.size(), " weights for ",
                                                   loras.size(), " experts"));
  }
  for (size_t i = 0; i < loras.size(); ++i) {
    if (absl::Status s = CheckLoraShapes(loras[i], absl::StrCat("ab: expert ", i)); !s.ok()) {
      return s;
    }
    if (loras[i].a.shape() != loras[0].a.shape() || loras[i].b.shape() != loras[0].b.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ab: expert ", i, ": expected A ", ShapeToString(loras[0].a.shape()), " and B ",
          ShapeToString(loras[0].b.shape()), ", got ", ShapeToString(loras[i].a.shape()),
          " and ", ShapeToString(loras[i].b.shape()), " (ab needs equal ranks)"));
    }
  }
  const bool same_scale = std::all_of(loras.begin(), loras.end(), [&](const LoraFactors& l) {
    return l.scale == loras[0].scale;
  });
  LoraFactors merged{Tensor::Zeros(loras[0].a.shape()), Tensor::Zeros(loras[0].b.shape()),
                     same_scale ? loras[0].scale : 1.0f};
  for (size_t i = 0; i < loras.size(); ++i) {
    const float c = static_cast<float>(coefficients[i]);
    const float b_factor = same_scale ? c : c * loras[i].scale;
    for (int64_t j = 0; j < merged.a.size(); ++j) merged.a.at(j) += c * loras[i].a.at(j);
    for (int64_t j = 0; j < merged.b.size(); ++j) merged.b.at(j) += b_factor * loras[i].b.at(j);
  }
  return merged;
}

absl::StatusOr<LoraFactors> LowRankFromFactors(absl::Span<const LoraFactors> loras,
                                               absl::Span<const double> coefficients,
                                               int64_t rank) {
  if (loras.empty()) return absl::InvalidArgumentError("svd: no experts to merge");
  if (absl::Status s = CheckLoraShapes(loras[0], "svd: expert 0"); !s.ok()) return s;
  const int64_t out = loras[0].b.dim(0), in = loras[0].a.dim(1);
  if (absl::Status status = CheckRank(rank, out, in); !status.ok()) return status;
  if (coefficients.size() != loras.size()) {
    return absl::InvalidArgumentError(absl::StrCat("svd: ", coefficients.size(),
                                                   " weights for ", loras.size(), " experts"));
  }
  int64_t total_rank = 0;
  for (size_t i = 0; i < loras.size(); ++i) {
    const LoraFactors& lora = loras[i];
    if (absl::Status s = CheckLoraShapes(lora, absl::StrCat("svd: expert ", i)); !s.ok()) return s;
    if (lora.b.dim(0) != out || lora.a.dim(1) != in) {
      return absl::InvalidArgumentError(absl::StrCat("svd: expert ", i, ": expected delta [", out,
                                                     ", ", in, "], got [", lora.b.dim(0), ", ",
                                                     lora.a.dim(1), "]"));
    }
    total_rank += lora.a.dim(0);
  }
  // dW = B_cat A_cat with B_cat [out, K] = [c_i s_i B_i], A_cat^T [in, K] = [A_i^T].
  MatrixD b_cat(out, total_rank), a_cat_t(in, total_rank);
  int64_t offset = 0;
  for (size_t i = 0; i < loras.size(); ++i) {
    const int64_t r = loras[i].a.dim(0);
    const double factor = coefficients[i] * loras[i].scale;
    b_cat.middleCols(offset, r) =
        ConstMapF(loras[i].b.data(), out, r).cast<double>() * factor;
    a_cat_t.middleCols(offset, r) = ConstMapF(loras[i].a.data(), r, in).cast<double>().transpose();
    offset += r;
  }
  // B_cat = Q_b R_b and A_cat^T = Q_a R_a, so dW = Q_b (R_b R_a^T) Q_a^T.
  const MatrixD q_b = ThinQ(b_cat), q_a = ThinQ(a_cat_t);
  const MatrixD core = (q_b.transpose() * b_cat) * (q_a.transpose() * a_cat_t).transpose();
  Eigen::BDCSVD<MatrixD> svd(core, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return FactorsFromSvd(q_b * svd.matrixU(), svd.singularValues(), q_a * svd.matrixV(), rank);
}

absl::StatusOr<LoraFactors> TruncatedSvd(const Tensor& delta, int64_t rank, uint64_t seed) {
  if (delta.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "svd: expected a matrix delta, got shape ", ShapeToString(delta.shape())));
  }
  const int64_t out = delta.dim(0), in = delta.dim(1);
  if (absl::Status status = CheckRank(rank, out, in); !status.ok()) return status;
  const ConstMapF w(delta.data(), out, in);
  const int64_t sketch = rank + kOversampling;
  if (2 * sketch >= std::min(out, in)) {
    Eigen::BDCSVD<MatrixD> svd(w.cast<double>(), Eigen::ComputeThinU | Eigen::ComputeThinV);
    return FactorsFromSvd(svd.matrixU(), svd.singularValues(), svd.matrixV(), rank);
  }
  // Randomized range finder: Q spans W Omega, refined by power iterations.
  uint64_t state = seed;
  MatrixF omega(in, sketch);
  for (int64_t j = 0; j < omega.size(); ++j) omega.data()[j] = static_cast<float>(Gaussian(&state));
  MatrixD q = ThinQ((w * omega).cast<double>());
  for (int i = 0; i < kPowerIterations; ++i) {
    const MatrixD z = ThinQ((w.transpose() * q.cast<float>()).cast<double>());
    q = ThinQ((w * z.cast<float>()).cast<double>());
  }
  const MatrixD small = (q.cast<float>().transpose() * w).cast<double>();  // [sketch, in]
  Eigen::BDCSVD<MatrixD> svd(small, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return FactorsFromSvd(q * svd.matrixU(), svd.singularValues(), svd.matrixV(), rank);
}

}  // namespace libra::merge
