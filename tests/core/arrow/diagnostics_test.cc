#include "src/core/arrow/diagnostics.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "src/core/arrow/prototype.h"

namespace libra::arrow {
namespace {

TEST(InitSpanEnergyTest, HandWorkedCases) {
  // span(A0) = the x axis.
  const Tensor a0({1, 3}, {2, 0, 0});
  EXPECT_NEAR(*InitSpanEnergy(Tensor({3}, {1, 1, 0}), a0), 0.5, 1e-12);
  EXPECT_NEAR(*InitSpanEnergy(Tensor({3}, {0, 0, 5}), a0), 0.0, 1e-12);
  EXPECT_NEAR(*InitSpanEnergy(Tensor({3}, {-3, 0, 0}), a0), 1.0, 1e-12);
  // Rows [1,0,0] and [1,1,0] and a duplicate: span is the xy plane.
  const Tensor plane({3, 3}, {1, 0, 0, 1, 1, 0, 1, 1, 0});
  EXPECT_NEAR(*InitSpanEnergy(Tensor({3}, {1, 2, 2}), plane), 5.0 / 9.0, 1e-9);
}

TEST(InitSpanEnergyTest, BrieflyTrainedLoraPrototypeLiesInTheInitialSpan) {
  // A = A0 + small update, B random: the prototype sits almost in span(A0),
  // the failure mode the Arrow report diagnoses.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int r = 4, in = 64, out = 32;
  Tensor a0 = Tensor::Zeros({r, in}), a = Tensor::Zeros({r, in}), b = Tensor::Zeros({out, r});
  for (int i = 0; i < r * in; ++i) {
    a0.at(i) = normal(rng);
    a.at(i) = a0.at(i) + 0.01f * normal(rng);
  }
  for (float& v : b.values()) v = normal(rng);
  absl::StatusOr<Tensor> p = TopRightSingularVector(a, b, 4.0f);
  ASSERT_TRUE(p.ok());
  absl::StatusOr<double> share = InitSpanEnergy(*p, a0);
  ASSERT_TRUE(share.ok()) << share.status();
  EXPECT_GT(*share, 0.99);
  // A random direction has about r / in of its energy there.
  Tensor random_direction = Tensor::Zeros({in});
  for (float& v : random_direction.values()) v = normal(rng);
  EXPECT_LT(*InitSpanEnergy(random_direction, a0), 0.3);
}

TEST(InitSpanEnergyTest, RejectsMismatchedShapesAndZeroPrototype) {
  absl::Status s = InitSpanEnergy(Tensor({2}, {1, 0}), Tensor({1, 3}, {1, 0, 0}), "h.0.q").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("module \"h.0.q\": prototype must be [3]"), std::string::npos) << s;
  s = InitSpanEnergy(Tensor({3}, {0, 0, 0}), Tensor({1, 3}, {1, 0, 0})).status();
  EXPECT_NE(s.message().find("zero vector"), std::string::npos) << s;
}

}  // namespace
}  // namespace libra::arrow
