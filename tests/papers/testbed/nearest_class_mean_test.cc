#include "papers/testbed/nearest_class_mean.h"

#include "gtest/gtest.h"

namespace libra::papers::testbed {
namespace {

TEST(NearestClassMeanTest, SeparatedClustersAreAllRight) {
  ClassFeatures train = {{{0, 0}, {0, 1}}, {{10, 10}, {10, 11}}};
  ClassFeatures test = {{{0.5f, 0.5f}}, {{9, 9}, {11, 10}}};
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 1.0);
}

TEST(NearestClassMeanTest, CountsMistakes) {
  // Means (0, 0) and (4, 0); (3, 0) is nearer class 1, (1, 0) nearer class 0.
  ClassFeatures train = {{{-1, 0}, {1, 0}}, {{3, 0}, {5, 0}}};
  ClassFeatures test = {{{1, 0}, {3, 0}}, {{4, 0}, {1, 0}}};
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 0.5);
}

TEST(NearestClassMeanTest, StandardisationEqualisesScales) {
  // Class means (0, 0) and (2, 10). Dimension 0 separates the classes with
  // spread 1; dimension 1 has spread 1000. For (0, 9) the raw distances are
  // 81 and 5 (class 1 would win); standardised, dimension 1 differs by about
  // 0.01 and dimension 0 decides: class 0.
  ClassFeatures train = {{{0, 1000}, {0, -1000}}, {{2, 1010}, {2, -990}}};
  ClassFeatures test = {{{0, 9}}, {}};
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 1.0);
}

TEST(NearestClassMeanTest, EmptyInputs) {
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy({}, {}), 0.0);
  ClassFeatures train = {{{0}}, {}};
  ClassFeatures test = {{}, {{5}}};  // class 1 has no mean: never predicted
  EXPECT_DOUBLE_EQ(NearestClassMeanAccuracy(train, test), 0.0);
}

}  // namespace
}  // namespace libra::papers::testbed
