#include "src/core/merge/sparse_overlap.h"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;

// A sparse delta on a random mask of `shape` keeping about `keep` of entries.
SparseDelta RandomSparse(const Shape& shape, double keep, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::bernoulli_distribution in_mask(keep);
  SparseDelta sparse{shape, {}, {}};
  const int64_t n = shape[0] * shape[1];
  for (int64_t j = n - 1; j >= 0; --j) {  // descending: order must not matter
    if (in_mask(rng)) {
      sparse.indices.push_back(j);
      sparse.values.push_back(uniform(rng));
    }
  }
  return sparse;
}

TEST(SparseOverlapTest, MatchesSumOverCoverageCount) {
  const std::vector<SparseDelta> experts = {RandomSparse({9, 11}, 0.3, 1),
                                            RandomSparse({9, 11}, 0.5, 2),
                                            RandomSparse({9, 11}, 0.2, 3)};
  absl::StatusOr<SparseDelta> merged = MergeSparseOverlap(experts);
  ASSERT_TRUE(merged.ok());
  std::vector<float> sum(99, 0.0f), count(99, 0.0f);
  for (const SparseDelta& e : experts) {
    for (size_t k = 0; k < e.indices.size(); ++k) {
      sum[e.indices[k]] += e.values[k];
      count[e.indices[k]] += 1;
    }
  }
  std::vector<float> expected(99, 0.0f);
  int covered = 0;
  for (int j = 0; j < 99; ++j) {
    if (count[j] > 0) {
      expected[j] = sum[j] / count[j];
      ++covered;
    }
  }
  EXPECT_EQ(static_cast<int>(merged->indices.size()), covered);
  EXPECT_TRUE(std::is_sorted(merged->indices.begin(), merged->indices.end()));
  EXPECT_TRUE(AllClose(Densify(*merged).values(), expected));
  // The dense fallback (mask = non-zero entries) agrees.
  std::vector<Tensor> dense;
  for (const SparseDelta& e : experts) dense.push_back(Densify(e));
  absl::StatusOr<Tensor> via_dense = MergeSparseOverlapTensors(nullptr, dense, MergeParams{});
  ASSERT_TRUE(via_dense.ok());
  EXPECT_TRUE(AllClose(via_dense->values(), expected));
}

// Sparse masks (sorting path) and dense ones (accumulator path), indices in
// any order: the merge equals sum / cover count computed directly, and the
// two paths give the same floats as the per-entry loop in expert order.
TEST(SparseOverlapTest, SortingAndAccumulatorPathsMatchDirectComputation) {
  for (double density : {0.01, 0.4}) {
    std::vector<SparseDelta> experts;
    for (int e = 0; e < 5; ++e) {
      SparseDelta s = RandomSparse({40, 50}, density, 10 + e);
      std::reverse(s.indices.begin(), s.indices.end());
      std::reverse(s.values.begin(), s.values.end());
      experts.push_back(s);
    }
    absl::StatusOr<SparseDelta> merged = MergeSparseOverlap(experts);
    ASSERT_TRUE(merged.ok()) << merged.status();
    std::map<int64_t, std::pair<float, int>> direct;
    for (const SparseDelta& e : experts) {
      for (size_t k = 0; k < e.indices.size(); ++k) {
        direct[e.indices[k]].first += e.values[k];
        direct[e.indices[k]].second += 1;
      }
    }
    ASSERT_EQ(merged->indices.size(), direct.size()) << density;
    size_t k = 0;
    for (const auto& [index, sum_count] : direct) {
      EXPECT_EQ(merged->indices[k], index);
      EXPECT_EQ(merged->values[k], sum_count.first / static_cast<float>(sum_count.second)) << index;
      ++k;
    }
  }
}

TEST(SparseOverlapTest, DisjointMasksGiveTheSum) {
  SparseDelta a{{4, 4}, {0, 5, 7}, {1.0f, -2.0f, 3.0f}};
  SparseDelta b{{4, 4}, {15, 1}, {4.0f, 0.5f}};
  absl::StatusOr<SparseDelta> merged = MergeSparseOverlap({a, b});
  ASSERT_TRUE(merged.ok());
  std::vector<float> sum(16, 0.0f);
  for (size_t k = 0; k < 3; ++k) sum[a.indices[k]] += a.values[k];
  for (size_t k = 0; k < 2; ++k) sum[b.indices[k]] += b.values[k];
  EXPECT_EQ(Densify(*merged).values(), sum);
}

TEST(SparseOverlapTest, RejectsBadSparseInput) {
  SparseDelta good{{2, 3}, {0, 4}, {1.0f, 2.0f}};
  SparseDelta other_shape{{3, 2}, {0}, {1.0f}};
  SparseDelta out_of_range{{2, 3}, {6}, {1.0f}};
  SparseDelta repeated{{2, 3}, {1, 1}, {1.0f, 2.0f}};
  SparseDelta lengths{{2, 3}, {1, 2}, {1.0f}};
  struct Case {
    SparseDelta bad;
    const char* message;
  };
  for (const Case& c : {Case{other_shape, "expected shape [2, 3], got [3, 2]"},
                        Case{out_of_range, "index 6 outside [0, 6)"},
                        Case{repeated, "index 1 appears twice"},
                        Case{lengths, "2 indices but 1 values"}}) {
    absl::StatusOr<SparseDelta> merged = MergeSparseOverlap({good, c.bad});
    EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(merged.status().message(), c.message)) << merged.status();
  }
}

}  // namespace
}  // namespace libra::merge
