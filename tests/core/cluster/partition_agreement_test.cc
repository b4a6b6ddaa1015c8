#include "src/core/cluster/partition_agreement.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace libra::cluster {
namespace {

double Nmi(const std::vector<int>& a, const std::vector<int>& b) {
  absl::StatusOr<double> nmi = NormalizedMutualInformation(a, b);
  EXPECT_TRUE(nmi.ok()) << nmi.status();
  return nmi.value_or(-1);
}

TEST(NormalizedMutualInformationTest, EqualPartitionsUpToRenamingGiveOne) {
  EXPECT_NEAR(Nmi({0, 0, 1, 1, 2}, {7, 7, 3, 3, -1}), 1.0, 1e-12);
}

TEST(NormalizedMutualInformationTest, IndependentLabelingsGiveZero) {
  EXPECT_NEAR(Nmi({0, 0, 1, 1}, {0, 1, 0, 1}), 0.0, 1e-12);
}

// a = {0,0,0,1,1,1}, b = {0,0,1,1,2,2}: H(a) = ln 2, H(b) = ln 3, and
// given either a, b is {x, x, y} with entropy ln 3 - (2/3) ln 2, so
// I = (2/3) ln 2 and NMI = (4/3) ln 2 / ln 6 (about 0.5158).
TEST(NormalizedMutualInformationTest, MatchesTheClosedFormOfAWorkedExample) {
  const double expected = 4.0 / 3.0 * std::log(2.0) / std::log(6.0);
  EXPECT_NEAR(Nmi({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}), expected, 1e-12);
  EXPECT_NEAR(Nmi({0, 0, 1, 1, 2, 2}, {0, 0, 0, 1, 1, 1}), expected, 1e-12);  // symmetric
}

TEST(NormalizedMutualInformationTest, SingleClusters) {
  EXPECT_DOUBLE_EQ(Nmi({4, 4, 4}, {1, 1, 1}), 1.0);  // both one cluster
  EXPECT_NEAR(Nmi({4, 4, 4, 4}, {0, 1, 0, 1}), 0.0, 1e-12);  // one says nothing
}

TEST(NormalizedMutualInformationTest, MismatchedOrEmptyLabelingsAreErrors) {
  EXPECT_FALSE(NormalizedMutualInformation({0, 1}, {0}).ok());
  EXPECT_FALSE(NormalizedMutualInformation({}, {}).ok());
}

}  // namespace
}  // namespace libra::cluster
