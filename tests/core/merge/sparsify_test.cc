#include "src/core/merge/sparsify.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::NaiveProduct;
using testing::RandomTensor;

float SortedKth(std::vector<float> values, int64_t k) {
  for (float& v : values) v = std::fabs(v);
  std::sort(values.begin(), values.end(), std::greater<float>());
  return values[k - 1];
}

TEST(KthLargestMagnitudeTest, MatchesFullSortForEveryK) {
  const Tensor x = RandomTensor({9, 13}, 1);
  for (int64_t k = 1; k <= x.size(); ++k) {
    ASSERT_EQ(KthLargestMagnitude(DeltaView::Dense(x), k), SortedKth(x.values(), k)) << k;
  }
}

TEST(KthLargestMagnitudeTest, HandlesZerosTiesAndWideRanges) {
  std::vector<float> values = {0, 0, 0, -2, 2, 2, 1e-30f, -1e30f, 3, 0, 5e-3f, -5e-3f};
  const Tensor x({3, 4}, values);
  for (int64_t k = 1; k <= 12; ++k) {
    EXPECT_EQ(KthLargestMagnitude(DeltaView::Dense(x), k), SortedKth(values, k)) << k;
  }
}

TEST(KthLargestMagnitudeTest, WorksOnLoraViewsWithoutDenseCopy) {
  const Tensor a = RandomTensor({4, 300}, 2), b = RandomTensor({200, 4}, 3);
  const std::vector<float> dense = NaiveProduct(b, a, 1.5f);
  const DeltaView view = DeltaView::Lora(a, b, 1.5f);
  for (int64_t k : {1, 17, 6000, 59999, 60000}) {
    // The blocked kernel and the triple loop round differently; compare the
    // threshold to the sorted dense values with a float tolerance.
    EXPECT_NEAR(KthLargestMagnitude(view, k), SortedKth(dense, k), 1e-4) << k;
  }
}

TEST(KeepCountTest, FloorsAndToleratesDecimalProducts) {
  EXPECT_EQ(KeepCount(0.29, 100), 29);
  EXPECT_EQ(KeepCount(0.2, 10), 2);
  EXPECT_EQ(KeepCount(1.0, 7), 7);
  EXPECT_EQ(KeepCount(0.05, 10), 0);
}

TEST(MagnitudeBandTest, OutliersBandExcludesTheTop) {
  std::vector<float> values(20);
  for (int j = 0; j < 20; ++j) values[j] = static_cast<float>(j + 1);
  const Tensor x({20}, values);
  const MagnitudeBand band =
      MagnitudeBandFor(DeltaView::Dense(x), Sparsification::kMagnitudeOutliers, 0.25, 0.1);
  EXPECT_EQ(band.high, 19.0f);  // 19 and 20 dropped
  EXPECT_EQ(band.low, 14.0f);   // 14..18 kept
}

TEST(RandomKeepTest, KeepsAboutDensityAndDependsOnKey) {
  int kept = 0, same = 0;
  for (int64_t j = 0; j < 100000; ++j) {
    const bool a = RandomKeep(ExpertKey(1, 0), j, 0.25f);
    kept += a;
    same += a == RandomKeep(ExpertKey(1, 1), j, 0.25f);
  }
  EXPECT_NEAR(kept / 100000.0, 0.25, 0.01);
  EXPECT_NEAR(same / 100000.0, 0.25 * 0.25 + 0.75 * 0.75, 0.01);  // independent streams
  EXPECT_TRUE(RandomKeep(ExpertKey(5, 2), 12345, 1.0f));
}

}  // namespace
}  // namespace libra::merge
