#include "src/core/merge/task_arithmetic.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/merge/linear.h"
#include "src/core/merge/parallel.h"
#include "src/core/merge/sparsify.h"
#include "src/core/merge/tensor_merge.h"

namespace libra::merge {
namespace {

constexpr int64_t kBlockElements = 1 << 15;

struct Trim {
  Sparsification kind;
  MagnitudeBand band;
  uint64_t key;
  float density;
  float factor;  // w_i (lambda w_i without consensus), / density for DARE, / sum w to normalize
};

// t[j] = factor * x[j] where entry first + j survives, else 0.
void TrimBlock(const Trim& trim, const float* x, int64_t n, int64_t first, float* t) {
  const float f = trim.factor;
  switch (trim.kind) {
    case Sparsification::kNone:
      for (int64_t j = 0; j < n; ++j) t[j] = f * x[j];
      break;
    case Sparsification::kRandom:
      for (int64_t j = 0; j < n; ++j) {
        const float kept = f * x[j];  // computed unconditionally: a select, not a branch
        t[j] = RandomKeep(trim.key, first + j, trim.density) ? kept : 0.0f;
      }
      break;
    case Sparsification::kMagnitude:
    case Sparsification::kMagnitudeOutliers: {
      const float low = trim.band.low, high = trim.band.high;
      for (int64_t j = 0; j < n; ++j) {
        const float a = std::fabs(x[j]);
        const float kept = f * x[j];
        t[j] = ((a >= low) & (a < high)) ? kept : 0.0f;
      }
      break;
    }
  }
}

// TIES consensus over the trimmed block t[i * n + j]; weights w[i].
void ElectAndAverage(const float* t, const float* w, int num_experts, int64_t n, float lambda,
                     float* sign_sum, float* denominator, float* out) {
  std::fill(sign_sum, sign_sum + n, 0.0f);
  std::fill(denominator, denominator + n, 0.0f);
  std::fill(out, out + n, 0.0f);
  for (int i = 0; i < num_experts; ++i) {
    const float* ti = t + i * n;
    for (int64_t j = 0; j < n; ++j) sign_sum[j] += ti[j];
  }
  for (int i = 0; i < num_experts; ++i) {
    const float* ti = t + i * n;
    const float wi = w[i];
    for (int64_t j = 0; j < n; ++j) {
      // Bitwise, not short-circuit, so the loop stays branch-free.
      const bool agrees = ((ti[j] > 0.0f) & (sign_sum[j] > 0.0f)) |
                          ((ti[j] < 0.0f) & (sign_sum[j] < 0.0f));
      out[j] += agrees ? ti[j] : 0.0f;
      denominator[j] += agrees ? wi : 0.0f;
    }
  }
  for (int64_t j = 0; j < n; ++j) {
    const float mean = lambda * out[j] / denominator[j];  // inf/NaN where unused
    out[j] = denominator[j] != 0.0f ? mean : 0.0f;
  }
}

}  // namespace

absl::Status MergeTaskArithmeticViews(const MethodSpec& method,
                                      absl::Span<const DeltaView> views,
                                      const MergeParams& params, uint64_t module_seed,
                                      float* out) {
  if (absl::Status status = CheckSameShape(views, method.name); !status.ok()) return status;
  const int num_experts = static_cast<int>(views.size());
  if (static_cast<int>(params.weights.size()) != num_experts ||
      static_cast<int>(params.densities.size()) != num_experts) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method \"", method.name, "\": ", params.weights.size(), " weights for ", num_experts, " experts"));
  }
  const bool sign = method.consensus == Consensus::kSign;
  if (method.sparsification == Sparsification::kNone && !sign) {
    return MergeLinearViews(views, LinearCoefficients(params, params.lambda), params.threads,
                            out);
  }
  // Normalisation (no consensus) folds 1/sum w into each factor.
  const std::vector<double> coefficients = LinearCoefficients(params, 1.0);
  const bool random = method.sparsification == Sparsification::kRandom;
  std::vector<Trim> trims(num_experts);
  std::vector<float> weights(params.weights.begin(), params.weights.end());
  for (int i = 0; i < num_experts; ++i) {
    // Without consensus lambda folds into the factor: the block is a plain sum.
    const double factor = (sign ? params.weights[i] : params.lambda * coefficients[i]) /
                          (random ? params.densities[i] : 1.0);
    trims[i] = {method.sparsification, MagnitudeBand{}, ExpertKey(module_seed, i),
                static_cast<float>(params.densities[i]), static_cast<float>(factor)};
  }
  ParallelFor(num_experts, params.threads, [&](int64_t i) {
    trims[i].band = MagnitudeBandFor(views[i], method.sparsification, params.densities[i],
                                     params.beta);
  });

  const int64_t rows = views[0].rows, cols = views[0].cols;
  const int64_t block_rows = RowsPerBlock(cols, kBlockElements);
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  const float lambda = static_cast<float>(params.lambda);
  ParallelFor(blocks, params.threads, [&](int64_t block) {
    const int64_t begin = block * block_rows, end = std::min(rows, begin + block_rows);
    const int64_t n = (end - begin) * cols;
    // Per expert: one block of its task vector, then its trimmed copy.
    std::unique_ptr<float[]> scratch(new float[(num_experts + 3) * n]);
    float* trimmed = scratch.get() + n;
    for (int i = 0; i < num_experts; ++i) {
      const float* x = views[i].Rows(begin, end, scratch.get());
      TrimBlock(trims[i], x, n, begin * cols, trimmed + i * n);
    }
    float* out_block = out + begin * cols;
    if (sign) {
      float* sign_sum = trimmed + num_experts * n;
      ElectAndAverage(trimmed, weights.data(), num_experts, n, lambda, sign_sum,
                      sign_sum + n, out_block);
    } else {
      std::copy(trimmed, trimmed + n, out_block);
      for (int i = 1; i < num_experts; ++i) {
        for (int64_t j = 0; j < n; ++j) out_block[j] += trimmed[i * n + j];
      }
    }
  });
  return absl::OkStatus();
}

absl::StatusOr<Tensor> MergeTaskArithmetic(const MethodSpec& method, const Tensor* base,
                                           absl::Span<const Tensor> experts,
                                           const MergeParams& params) {
  return MergeTensors(base, experts, method.name,
                      [&](absl::Span<const DeltaView> views, float* out) {
                        return MergeTaskArithmeticViews(method, views, params, params.seed, out);
                      });
}

}  // namespace libra::merge
