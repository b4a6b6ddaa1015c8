#include "src/core/merge/linear.h"

#include <algorithm>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/merge/parallel.h"
#include "src/core/merge/tensor_merge.h"

namespace libra::merge {
namespace {

constexpr int64_t kBlockElements = 1 << 15;  // 128 KiB of output per task
constexpr int64_t kLowRankBlockElements = 1 << 17;  // more rows per packed strip of A

// out = c * in, then out += c * in: plain loops the compiler vectorises.
void Scale(const float* in, float coefficient, int64_t n, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = coefficient * in[j];
}
void AddScaled(const float* in, float coefficient, int64_t n, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] += coefficient * in[j];
}

// All inputs LoRA: one product of the concatenated factors per row block.
void MergeLowRank(absl::Span<const DeltaView> views, absl::Span<const double> coefficients,
                  int threads, float* out) {
  const int64_t rows = views[0].rows, cols = views[0].cols;
  int64_t total_rank = 0;
  for (const DeltaView& view : views) total_rank += view.rank;
  // B_cat [rows, total_rank] with c_i s_i folded in; A_cat [total_rank, cols].
  std::vector<float> b_cat(rows * total_rank), a_cat(total_rank * cols);
  int64_t offset = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    const DeltaView& view = views[i];
    const float factor = static_cast<float>(coefficients[i]) * view.scale;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < view.rank; ++k) {
        b_cat[r * total_rank + offset + k] = factor * view.lora_b[r * view.rank + k];
      }
    }
    std::copy(view.lora_a, view.lora_a + view.rank * cols, a_cat.begin() + offset * cols);
    offset += view.rank;
  }
  const int64_t block_rows = RowsPerBlock(cols, kLowRankBlockElements);
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  ParallelFor(blocks, threads, [&](int64_t block) {
    const int64_t begin = block * block_rows, end = std::min(rows, begin + block_rows);
    LowRankProduct(b_cat.data() + begin * total_rank, a_cat.data(), end - begin, total_rank,
                   cols, 1.0f, out + begin * cols);
  });
}

}  // namespace

std::vector<double> LinearCoefficients(const MergeParams& params, double scale) {
  double sum = 0.0;
  for (double weight : params.weights) sum += weight;
  std::vector<double> coefficients;
  for (double weight : params.weights) {
    coefficients.push_back(scale * (params.normalize ? weight / sum : weight));
  }
  return coefficients;
}

absl::Status MergeLinearViews(absl::Span<const DeltaView> views,
                              absl::Span<const double> coefficients, int threads, float* out) {
  if (absl::Status status = CheckSameShape(views, "linear"); !status.ok()) return status;
  if (coefficients.size() != views.size()) {
    return absl::InvalidArgumentError(absl::StrCat("linear: ", coefficients.size(),
                                                   " weights for ", views.size(), " experts"));
  }
  if (std::all_of(views.begin(), views.end(), [](const DeltaView& v) { return v.is_lora(); })) {
    MergeLowRank(views, coefficients, threads, out);
    return absl::OkStatus();
  }
  const int64_t rows = views[0].rows, cols = views[0].cols;
  const int64_t block_rows = RowsPerBlock(cols, kBlockElements);
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  ParallelFor(blocks, threads, [&](int64_t block) {
    const int64_t begin = block * block_rows, end = std::min(rows, begin + block_rows);
    const int64_t n = (end - begin) * cols;
    std::unique_ptr<float[]> scratch(new float[n]);
    float* out_block = out + begin * cols;
    for (size_t i = 0; i < views.size(); ++i) {
      const float* rows_i = views[i].Rows(begin, end, scratch.get());
      const float c = static_cast<float>(coefficients[i]);
      if (i == 0) {
        Scale(rows_i, c, n, out_block);
      } else {
        AddScaled(rows_i, c, n, out_block);
      }
    }
  });
  return absl::OkStatus();
}

absl::StatusOr<Tensor> MergeLinear(const Tensor* base, absl::Span<const Tensor> experts,
                                   const MergeParams& params) {
  const std::vector<double> coefficients = LinearCoefficients(params, 1.0);
  return MergeTensors(base, experts, "linear",
                      [&](absl::Span<const DeltaView> views, float* out) {
                        return MergeLinearViews(views, coefficients, params.threads, out);
                      });
}

}  // namespace libra::merge
