#include "src/core/cluster/mbc.h"

#include <algorithm>
#include <cmath>

#include "Eigen/Dense"
#include "absl/strings/str_cat.h"
#include "src/core/cluster/kmeans.h"
#include "src/core/status_macros.h"

namespace libra::cluster {
namespace {

constexpr int64_t kGramChunkColumns = 1 << 16;

}  // namespace

absl::StatusOr<std::vector<float>> FlattenLora(const std::vector<NamedLoraModule>& modules) {
  LIBRA_RETURN_IF_ERROR(ValidateLoraModules(modules, "MBC flatten"));
  std::vector<float> flat;
  size_t total = 0;
  for (const NamedLoraModule& m : modules) total += m.a.values().size() + m.b.values().size();
  flat.reserve(total);
  for (const NamedLoraModule& m : modules) {
    flat.insert(flat.end(), m.a.values().begin(), m.a.values().end());
    flat.insert(flat.end(), m.b.values().begin(), m.b.values().end());
  }
  return flat;
}

absl::StatusOr<double> AbsQuantile(absl::Span<const float> values, double q) {
  if (values.empty()) return absl::InvalidArgumentError("quantile of an empty vector");
  if (!(q >= 0.0 && q <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("quantile must be in [0, 1], got ", q));
  }
  std::vector<float> magnitude(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat("NaN or Inf at index ", i));
    }
    magnitude[i] = std::fabs(values[i]);
  }
  const double position = q * static_cast<double>(magnitude.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(position));
  std::nth_element(magnitude.begin(), magnitude.begin() + lower, magnitude.end());
  const double low = magnitude[lower];
  if (lower + 1 >= magnitude.size()) return low;
  const double high = *std::min_element(magnitude.begin() + lower + 1, magnitude.end());
  return low + (position - static_cast<double>(lower)) * (high - low);
}

void ZeroAtOrBelow(absl::Span<float> values, double threshold) {
  for (float& v : values) {
    if (std::fabs(v) <= threshold) v = 0.0f;
  }
}

absl::StatusOr<double> SparsifyByQuantile(absl::Span<float> values, double q) {
  if (!(q >= 0.0 && q < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MBC: sparsity quantile must be in [0, 1), got ", q));
  }
  if (q == 0.0) return -1.0;
  LIBRA_ASSIGN_OR_RETURN(double threshold, AbsQuantile(values, q));
  ZeroAtOrBelow(values, threshold);
  return threshold;
}

GramAccumulator::GramAccumulator(int64_t experts)
    : experts_(std::max<int64_t>(experts, 0)), gram_(experts_ * experts_, 0.0) {}

absl::Status GramAccumulator::Add(absl::Span<const absl::Span<const float>> chunks) {
  if (static_cast<int64_t>(chunks.size()) != experts_) {
    return absl::InvalidArgumentError(absl::StrCat("MBC Gram: expected ", experts_,
                                                   " expert chunks, got ", chunks.size()));
  }
  if (experts_ == 0) return absl::OkStatus();
  const int64_t width = static_cast<int64_t>(chunks[0].size());
  for (int64_t e = 0; e < experts_; ++e) {
    if (static_cast<int64_t>(chunks[e].size()) != width) {
      return absl::InvalidArgumentError(absl::StrCat("MBC Gram: expert ", e, " chunk has ",
                                                     chunks[e].size(), " values, expert 0 has ",
                                                     width));
    }
  }
  Eigen::MatrixXd block(experts_, width);
  for (int64_t e = 0; e < experts_; ++e) {
    for (int64_t j = 0; j < width; ++j) block(e, j) = chunks[e][j];
  }
  if (!block.allFinite()) return absl::InvalidArgumentError("MBC Gram: NaN or Inf in expert values");
  Eigen::Map<Eigen::MatrixXd> gram(gram_.data(), experts_, experts_);
  gram.noalias() += block * block.transpose();
  columns_ += width;
  return absl::OkStatus();
}

absl::StatusOr<Tensor> EmbedFromGram(const std::vector<double>& gram, int64_t experts, int dims) {
  if (experts < 1 || static_cast<int64_t>(gram.size()) != experts * experts) {
    return absl::InvalidArgumentError(absl::StrCat("MBC: Gram matrix must be [", experts, ", ",
                                                   experts, "], got ", gram.size(), " values"));
  }
  if (dims < 1) {
    return absl::InvalidArgumentError(absl::StrCat("MBC: embedding dims must be >= 1, got ", dims));
  }
  const int64_t d = std::min<int64_t>(dims, experts);
  const Eigen::Map<const Eigen::MatrixXd> g(gram.data(), experts, experts);
  if (!g.allFinite()) return absl::InvalidArgumentError("MBC: Gram matrix holds NaN or Inf");
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(g);
  if (solver.info() != Eigen::Success) {
    return absl::InternalError("MBC: eigendecomposition of the Gram matrix did not converge");
  }
  // Eigenvalues ascend; the top d components are the last d columns.
  Eigen::MatrixXd embedding(experts, d);
  for (int64_t j = 0; j < d; ++j) {
    const int64_t source = experts - 1 - j;
    embedding.col(j) =
        solver.eigenvectors().col(source) * std::sqrt(std::max(0.0, solver.eigenvalues()(source)));
  }
  Tensor result = Tensor::Zeros({experts, d});
  for (int64_t i = 0; i < experts; ++i) {
    const double norm = embedding.row(i).norm();
    if (norm == 0.0) continue;  // an all-zero expert stays zero
    for (int64_t j = 0; j < d; ++j) result.at(i * d + j) = static_cast<float>(embedding(i, j) / norm);
  }
  return result;
}

Tensor CosineSimilarity(const Tensor& embedding) {
  const int64_t n = embedding.dim(0);
  const int64_t d = embedding.dim(1);
  Tensor similarity = Tensor::Zeros({n, n});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i; j < n; ++j) {
      double dot = 0.0;
      for (int64_t c = 0; c < d; ++c) {
        dot += static_cast<double>(embedding.at(i * d + c)) * embedding.at(j * d + c);
      }
      similarity.at(i * n + j) = similarity.at(j * n + i) = static_cast<float>(dot);
    }
  }
  return similarity;
}

absl::StatusOr<MbcResult> ClusterFromGram(const GramAccumulator& gram, const MbcOptions& options) {
  const int64_t n = gram.experts();
  if (options.k < 1 || options.k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("MBC: k must be in [1, ", n, "] (the number of experts), got ", options.k));
  }
  MbcResult result;
  LIBRA_ASSIGN_OR_RETURN(result.embedding,
                         EmbedFromGram(gram.gram(), n, options.embedding_dims));
  result.similarity = CosineSimilarity(result.embedding);
  KMeansOptions kmeans;
  kmeans.k = options.k;
  kmeans.restarts = options.restarts;
  kmeans.max_iterations = options.max_iterations;
  kmeans.seed = options.seed;
  LIBRA_ASSIGN_OR_RETURN(KMeansResult clusters, KMeans(result.similarity, kmeans));
  result.assignment = std::move(clusters.assignment);
  result.inertia = clusters.inertia;
  return result;
}

absl::StatusOr<MbcResult> ClusterExperts(const std::vector<std::vector<float>>& vectors,
                                         const MbcOptions& options) {
  const int64_t n = static_cast<int64_t>(vectors.size());
  if (n == 0) return absl::InvalidArgumentError("MBC: no experts");
  const size_t length = vectors[0].size();
  if (length == 0) return absl::InvalidArgumentError("MBC: expert 0 has no parameters");
  for (int64_t e = 1; e < n; ++e) {
    if (vectors[e].size() != length) {
      return absl::InvalidArgumentError(absl::StrCat("MBC: expert ", e, " has ", vectors[e].size(),
                                                     " parameters, expert 0 has ", length));
    }
  }
  if (options.k < 1 || options.k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("MBC: k must be in [1, ", n, "] (the number of experts), got ", options.k));
  }
  std::vector<std::vector<float>> sparse = vectors;
  for (int64_t e = 0; e < n; ++e) {
    absl::StatusOr<double> threshold = SparsifyByQuantile(absl::MakeSpan(sparse[e]),
                                                          options.sparsity_quantile);
    if (!threshold.ok()) {
      return absl::Status(threshold.status().code(),
                          absl::StrCat("expert ", e, ": ", threshold.status().message()));
    }
  }
  GramAccumulator gram(n);
  std::vector<absl::Span<const float>> chunks(n);
  for (size_t begin = 0; begin < length; begin += kGramChunkColumns) {
    const size_t width = std::min<size_t>(kGramChunkColumns, length - begin);
    for (int64_t e = 0; e < n; ++e) chunks[e] = absl::MakeConstSpan(sparse[e]).subspan(begin, width);
    LIBRA_RETURN_IF_ERROR(gram.Add(chunks));
  }
  return ClusterFromGram(gram, options);
}

}  // namespace libra::cluster
