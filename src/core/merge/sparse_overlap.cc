#include "src/core/merge/sparse_overlap.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/merge/parallel.h"
#include "src/core/merge/tensor_merge.h"

namespace libra::merge {
namespace {

constexpr int64_t kBlockElements = 1 << 15;

absl::Status CheckSparse(const SparseDelta& sparse, const Shape& shape, size_t expert) {
  const std::string where = absl::StrCat("sparse_overlap: expert ", expert);
  if (sparse.shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": expected shape ",
                                                   ShapeToString(shape), ", got ",
                                                   ShapeToString(sparse.shape)));
  }
  if (sparse.indices.size() != sparse.values.size()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", sparse.indices.size(),
                                                   " indices but ", sparse.values.size(),
                                                   " values"));
  }
  absl::StatusOr<int64_t> size = NumElements(shape);
  if (!size.ok()) return size.status();
  for (int64_t index : sparse.indices) {
    if (index < 0 || index >= *size) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": index ", index,
                                                     " outside [0, ", *size, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// A repeated index within one expert would count its mask twice. Indices
// read from files are ascending, which proves uniqueness in one pass.
absl::Status CheckUnique(const SparseDelta& sparse, size_t expert) {
  if (std::adjacent_find(sparse.indices.begin(), sparse.indices.end(),
                         std::greater_equal<int64_t>()) == sparse.indices.end()) {
    return absl::OkStatus();
  }
  std::vector<int64_t> sorted = sparse.indices;
  std::sort(sorted.begin(), sorted.end());
  auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated == sorted.end()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("sparse_overlap: expert ", expert, ": index ",
                                                 *repeated, " appears twice"));
}

}  // namespace

absl::StatusOr<SparseDelta> MergeSparseOverlap(absl::Span<const SparseDelta> experts) {
  if (experts.empty()) return absl::InvalidArgumentError("sparse_overlap: no experts to merge");
  size_t total = 0;
  for (size_t i = 0; i < experts.size(); ++i) {
    if (absl::Status status = CheckSparse(experts[i], experts[0].shape, i); !status.ok()) {
      return status;
    }
    if (absl::Status status = CheckUnique(experts[i], i); !status.ok()) return status;
    total += experts[i].indices.size();
  }
  SparseDelta merged;
  merged.shape = experts[0].shape;
  const int64_t size = *NumElements(merged.shape);
  // Both paths add each entry's values in expert order from 0, so they give
  // the same floats. Dense accumulation (O(size + nnz), scratch of 8 bytes
  // per dense entry) when the masks are dense enough that it is at most
  // about 2.7x the inputs' bytes; else sorting (O(nnz log nnz)).
  if (size <= 4 * static_cast<int64_t>(total)) {
    std::vector<float> sum(size, 0.0f);
    std::vector<int32_t> count(size, 0);
    merged.indices.reserve(std::min<size_t>(size, total));
    merged.values.reserve(std::min<size_t>(size, total));
    for (const SparseDelta& expert : experts) {
      for (size_t e = 0; e < expert.indices.size(); ++e) {
        sum[expert.indices[e]] += expert.values[e];
        ++count[expert.indices[e]];
      }
    }
    for (int64_t j = 0; j < size; ++j) {
      if (count[j] == 0) continue;
      merged.indices.push_back(j);
      merged.values.push_back(sum[j] / static_cast<float>(count[j]));
    }
    return merged;
  }
  std::vector<std::pair<int64_t, float>> entries;
  entries.reserve(total);
  for (const SparseDelta& expert : experts) {
    for (size_t e = 0; e < expert.indices.size(); ++e) {
      entries.emplace_back(expert.indices[e], expert.values[e]);
    }
  }
  // Stable: equal indices keep expert order, so the float sum is reproducible.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t e = 0; e < entries.size();) {
    size_t next = e;
    float sum = 0.0f;
    while (next < entries.size() && entries[next].first == entries[e].first) {
      sum += entries[next++].second;
    }
    merged.indices.push_back(entries[e].first);
    merged.values.push_back(sum / static_cast<float>(next - e));
    e = next;
  }
  return merged;
}

Tensor Densify(const SparseDelta& sparse) {
  Tensor dense = Tensor::Zeros(sparse.shape);
  for (size_t e = 0; e < sparse.indices.size(); ++e) {
    dense.at(sparse.indices[e]) = sparse.values[e];
  }
  return dense;
}

absl::Status MergeSparseOverlapViews(absl::Span<const DeltaView> views, int threads,
                                     float* out) {
  if (absl::Status status = CheckSameShape(views, "sparse_overlap"); !status.ok()) {
    return status;
  }
  const int64_t rows = views[0].rows, cols = views[0].cols;
  const int64_t block_rows = RowsPerBlock(cols, kBlockElements);
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  ParallelFor(blocks, threads, [&](int64_t block) {
    const int64_t begin = block * block_rows, end = std::min(rows, begin + block_rows);
    const int64_t n = (end - begin) * cols;
    std::unique_ptr<float[]> scratch(new float[2 * n]);
    float* count = scratch.get() + n;
    float* out_block = out + begin * cols;
    std::fill(out_block, out_block + n, 0.0f);
    std::fill(count, count + n, 0.0f);
    for (const DeltaView& view : views) {
      const float* x = view.Rows(begin, end, scratch.get());
      for (int64_t j = 0; j < n; ++j) {
        out_block[j] += x[j];
        count[j] += x[j] != 0.0f ? 1.0f : 0.0f;
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      out_block[j] = count[j] > 0.0f ? out_block[j] / count[j] : 0.0f;
    }
  });
  return absl::OkStatus();
}

absl::StatusOr<Tensor> MergeSparseOverlapTensors(const Tensor* base,
                                                 absl::Span<const Tensor> experts,
                                                 const MergeParams& params) {
  return MergeTensors(base, experts, "sparse_overlap",
                      [&](absl::Span<const DeltaView> views, float* out) {
                        return MergeSparseOverlapViews(views, params.threads, out);
                      });
}

}  // namespace libra::merge
