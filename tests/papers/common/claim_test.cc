#include "papers/common/claim.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::papers {
namespace {

using ::testing::HasSubstr;

Claim Make(Direction d, double margin, Quantity a = Quantity::Metric("a"),
           Quantity b = Quantity::Metric("b")) {
  Claim c;
  c.id = "c";
  c.statement = "s";
  c.a = std::move(a);
  c.b = std::move(b);
  c.direction = d;
  c.margin = margin;
  return c;
}

// The paired difference's mean and standard error, written out plainly.
void PlainStats(const std::vector<double>& d, double* mean, double* se) {
  double sum = 0;
  for (double v : d) sum += v;
  *mean = sum / d.size();
  double ss = 0;
  for (double v : d) ss += (v - *mean) * (v - *mean);
  *se = std::sqrt(ss / (d.size() - 1)) / std::sqrt(static_cast<double>(d.size()));
}

TEST(JudgeClaim, GreaterReproducedWithPairedNumbers) {
  SeedValues a = {{1, 0.90}, {2, 0.92}, {3, 0.88}};
  SeedValues b = {{1, 0.50}, {2, 0.52}, {3, 0.49}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.1), a, b);
  ASSERT_TRUE(r.ok()) << r.status();
  double mean, se;
  PlainStats({0.40, 0.40, 0.39}, &mean, &se);
  EXPECT_NEAR(r->diff_mean, mean, 1e-12);
  EXPECT_NEAR(r->diff_se, se, 1e-12);
  EXPECT_NEAR(r->spread, 2.0 * se, 1e-12);
  EXPECT_NEAR(r->excess, mean - 0.1, 1e-12);
  EXPECT_TRUE(r->paired);
  EXPECT_EQ(r->seeds, (std::vector<int>{1, 2, 3}));
  EXPECT_NEAR(r->a.mean, 0.90, 1e-12);
  EXPECT_NEAR(r->a.std, 0.02, 1e-12);  // deviations 0, .02, -.02: sqrt(.0008/2)
  EXPECT_EQ(r->verdict, Verdict::kReproduced);
}

TEST(JudgeClaim, GreaterNotReproducedWhenItGoesTheOtherWay) {
  SeedValues a = {{1, 0.40}, {2, 0.42}, {3, 0.41}};
  SeedValues b = {{1, 0.50}, {2, 0.52}, {3, 0.49}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.0), a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kNotReproduced);
}

TEST(JudgeClaim, GreaterNotReproducedWhenBelowTheMarginByMoreThanTheSpread) {
  // A beats B by 0.05 on every seed, but the claim needs 0.2.
  SeedValues a = {{1, 0.55}, {2, 0.57}, {3, 0.54}};
  SeedValues b = {{1, 0.50}, {2, 0.52}, {3, 0.49}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.2), a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kNotReproduced);
}

TEST(JudgeClaim, InconclusiveWithinTheSpread) {
  // Differences 0.2, -0.1, 0.05: mean 0.05, sd 0.15, se 0.0866, spread 0.173.
  SeedValues a = {{1, 0.7}, {2, 0.4}, {3, 0.55}};
  SeedValues b = {{1, 0.5}, {2, 0.5}, {3, 0.5}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.0), a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->diff_mean, 0.05, 1e-12);
  EXPECT_NEAR(r->spread, 2 * 0.15 / std::sqrt(3.0), 1e-12);
  EXPECT_EQ(r->verdict, Verdict::kInconclusive);
}

TEST(JudgeClaim, ExactlyAtTheMarginIsInconclusive) {
  // Differences exactly 0.25 (binary-exact) with margin 0.25: excess 0, spread 0.
  SeedValues a = {{1, 0.75}, {2, 0.75}};
  SeedValues b = {{1, 0.5}, {2, 0.5}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.25), a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->excess, 0.0);
  EXPECT_EQ(r->spread, 0.0);
  EXPECT_EQ(r->verdict, Verdict::kInconclusive);
}

TEST(JudgeClaim, LessMirrorsGreater) {
  SeedValues a = {{1, 0.2}, {2, 0.21}, {3, 0.19}};
  SeedValues b = {{1, 0.5}, {2, 0.52}, {3, 0.49}};
  EXPECT_EQ(JudgeClaim(Make(Direction::kLess, 0.1), a, b)->verdict, Verdict::kReproduced);
  EXPECT_EQ(JudgeClaim(Make(Direction::kLess, 0.1), b, a)->verdict, Verdict::kNotReproduced);
}

TEST(JudgeClaim, AtLeastAcceptsASmallDeficitWithinTheMargin) {
  // A is 0.02 below B on every seed; "A at least B within 0.05" holds.
  SeedValues a = {{1, 0.48}, {2, 0.50}, {3, 0.47}};
  SeedValues b = {{1, 0.50}, {2, 0.52}, {3, 0.49}};
  EXPECT_EQ(JudgeClaim(Make(Direction::kAtLeast, 0.05), a, b)->verdict, Verdict::kReproduced);
  EXPECT_EQ(JudgeClaim(Make(Direction::kAtLeast, 0.0), a, b)->verdict, Verdict::kNotReproduced);
}

TEST(JudgeClaim, AtMostAcceptsASmallExcessWithinTheMargin) {
  SeedValues a = {{1, 0.52}, {2, 0.54}, {3, 0.51}};
  SeedValues b = {{1, 0.50}, {2, 0.52}, {3, 0.49}};
  EXPECT_EQ(JudgeClaim(Make(Direction::kAtMost, 0.05), a, b)->verdict, Verdict::kReproduced);
  EXPECT_EQ(JudgeClaim(Make(Direction::kAtMost, 0.0), a, b)->verdict, Verdict::kNotReproduced);
}

TEST(JudgeClaim, ApproxEqualIsAnEquivalenceTest) {
  SeedValues b = {{1, 0.50}, {2, 0.52}, {3, 0.49}};
  SeedValues close = {{1, 0.51}, {2, 0.52}, {3, 0.50}};  // differences .01, 0, .01
  SeedValues far = {{1, 0.70}, {2, 0.72}, {3, 0.69}};    // differences .2 everywhere
  EXPECT_EQ(JudgeClaim(Make(Direction::kApproxEqual, 0.05), close, b)->verdict,
            Verdict::kReproduced);
  EXPECT_EQ(JudgeClaim(Make(Direction::kApproxEqual, 0.05), far, b)->verdict,
            Verdict::kNotReproduced);
  // Far below is as unequal as far above.
  EXPECT_EQ(JudgeClaim(Make(Direction::kApproxEqual, 0.05), b, far)->verdict,
            Verdict::kNotReproduced);
}

TEST(JudgeClaim, ConstantSideUsesTheMeasuredSidesStandardError) {
  SeedValues a = {{1, 0.95}, {2, 0.97}, {3, 0.93}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.0, Quantity::Metric("a"), Quantity::Constant(0.9)),
                      a, {});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->diff_mean, 0.05, 1e-12);
  EXPECT_NEAR(r->diff_se, 0.02 / std::sqrt(3.0), 1e-12);
  EXPECT_EQ(r->verdict, Verdict::kReproduced);
  EXPECT_NEAR(r->b.mean, 0.9, 0);
  // Constant on the left: 0.9 > A does not hold.
  auto l = JudgeClaim(Make(Direction::kGreater, 0.0, Quantity::Constant(0.9), Quantity::Metric("b")),
                      {}, a);
  ASSERT_TRUE(l.ok());
  EXPECT_NEAR(l->diff_mean, -0.05, 1e-12);
  EXPECT_EQ(l->verdict, Verdict::kNotReproduced);
}

TEST(JudgeClaim, UnpairedSeedsUseWelchStandardError) {
  SeedValues a = {{1, 0.9}, {2, 0.8}};
  SeedValues b = {{3, 0.5}, {4, 0.3}};
  auto r = JudgeClaim(Make(Direction::kGreater, 0.0), a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->paired);
  double sa = std::sqrt(0.005), sb = std::sqrt(0.02);  // sample variances .005 and .02
  EXPECT_NEAR(r->diff_mean, 0.85 - 0.4, 1e-12);
  EXPECT_NEAR(r->diff_se, std::sqrt(sa * sa / 2 + sb * sb / 2), 1e-12);
  EXPECT_THAT(r->note, HasSubstr("Welch"));
  EXPECT_EQ(r->verdict, Verdict::kReproduced);  // .45 > 2 * .112
}

TEST(JudgeClaim, OneSeedHasNoSpreadAndSaysSo) {
  auto r = JudgeClaim(Make(Direction::kGreater, 0.0), {{1, 0.6}}, {{1, 0.5}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spread, 0.0);
  EXPECT_EQ(r->verdict, Verdict::kReproduced);
  EXPECT_THAT(r->note, HasSubstr("one seed"));
}

TEST(JudgeClaim, RejectsBadInput) {
  SeedValues v = {{1, 0.5}};
  auto neg = JudgeClaim(Make(Direction::kGreater, -0.1), v, v);
  EXPECT_EQ(neg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(neg.status().message(), HasSubstr("margin must be >= 0"));
  auto empty = JudgeClaim(Make(Direction::kGreater, 0.0), v, {});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("no values for metric \"b\""));
  auto both = JudgeClaim(
      Make(Direction::kGreater, 0.0, Quantity::Constant(1), Quantity::Constant(0)), {}, {});
  EXPECT_THAT(both.status().message(), HasSubstr("both sides are constants"));
  auto nan = JudgeClaim(Make(Direction::kGreater, 0.0), {{1, std::nan("")}}, v);
  EXPECT_THAT(nan.status().message(), HasSubstr("not finite"));
}

TEST(ClaimNames, RoundTrip) {
  for (Direction d : {Direction::kGreater, Direction::kLess, Direction::kAtLeast,
                      Direction::kAtMost, Direction::kApproxEqual}) {
    EXPECT_EQ(*ParseDirection(DirectionName(d)), d);
  }
  for (Verdict v : {Verdict::kReproduced, Verdict::kNotReproduced, Verdict::kInconclusive}) {
    EXPECT_EQ(*ParseVerdict(VerdictName(v)), v);
  }
  EXPECT_EQ(VerdictName(Verdict::kNotReproduced), "not reproduced");
  EXPECT_THAT(ParseDirection("bigger").status().message(), HasSubstr("\"bigger\""));
}

}  // namespace
}  // namespace libra::papers
