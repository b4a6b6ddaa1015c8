#include "src/core/cl/mechanisms.h"

#include <cmath>

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

constexpr Factorisation kAll[] = {Factorisation::kCausal, Factorisation::kAntiCausal,
                                  Factorisation::kJoint};

// A 3-valued model with distinct, hand-chosen logits.
LogitModel Model3(Factorisation f) {
  LogitModel m = UniformModel(f, 3);
  for (size_t i = 0; i < m.params.size(); ++i) m.params[i] = 0.3 * std::sin(1.7 * i + 0.4);
  return m;
}

// Weights that are not a distribution (sum 1.3), so the total's role is tested.
Table Weights3() { return {{0.2, 0.0, 0.1}, {0.05, 0.3, 0.15}, {0.25, 0.1, 0.15}}; }

// softmax of three numbers, written out.
double Soft(double x0, double x1, double x2, int i) {
  const double e[3] = {std::exp(x0), std::exp(x1), std::exp(x2)};
  return e[i] / (e[0] + e[1] + e[2]);
}

TEST(MechanismsTest, CausalJointIsMarginalTimesRow) {
  const LogitModel m = Model3(Factorisation::kCausal);
  const auto& p = m.params;
  const Table q = ModelJoint(m);
  // q(a=2, b=1) = softmax(m)_2 * softmax(c_2)_1; c_2 = params[3 + 6 .. 3 + 8].
  EXPECT_NEAR(q[2][1], Soft(p[0], p[1], p[2], 2) * Soft(p[9], p[10], p[11], 1), 1e-12);
}

TEST(MechanismsTest, AntiCausalJointIsEffectMarginalTimesRowOverCause) {
  const LogitModel m = Model3(Factorisation::kAntiCausal);
  const auto& p = m.params;
  const Table q = ModelJoint(m);
  // q(a=2, b=1) = softmax(m)_1 (P(B=1)) * softmax(c_1)_2 (P(A=2 | B=1)).
  EXPECT_NEAR(q[2][1], Soft(p[0], p[1], p[2], 1) * Soft(p[6], p[7], p[8], 2), 1e-12);
}

TEST(MechanismsTest, CrossEntropyIsTheDirectSum) {
  for (Factorisation f : kAll) {
    const LogitModel m = Model3(f);
    const Table q = ModelJoint(m), w = Weights3();
    double direct = 0.0, mass = 0.0;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        direct -= w[a][b] * std::log(q[a][b]);
        mass += q[a][b];
      }
    }
    EXPECT_NEAR(mass, 1.0, 1e-12) << FactorisationName(f);
    EXPECT_NEAR(CrossEntropy(m, w), direct, 1e-12) << FactorisationName(f);
  }
}

TEST(MechanismsTest, GradientMatchesCentralFiniteDifferences) {
  constexpr double kStep = 1e-5;
  for (Factorisation f : kAll) {
    LogitModel m = Model3(f);
    const std::vector<double> g = Gradient(m, Weights3());
    ASSERT_EQ(g.size(), m.params.size());
    for (size_t i = 0; i < g.size(); ++i) {
      const double x = m.params[i];
      m.params[i] = x + kStep;
      const double up = CrossEntropy(m, Weights3());
      m.params[i] = x - kStep;
      const double down = CrossEntropy(m, Weights3());
      m.params[i] = x;
      EXPECT_NEAR(g[i], (up - down) / (2 * kStep), 1e-8) << FactorisationName(f) << " " << i;
    }
  }
}

TEST(MechanismsTest, UniformCausalGradientByHand) {
  // All logits 0, weights a point mass 1 on (a=0, b=2): marginal gradient
  // (1/3 - 1, 1/3, 1/3); row 0 gradient (1/3, 1/3, 1/3 - 1); rows 1, 2 zero.
  const LogitModel m = UniformModel(Factorisation::kCausal, 3);
  Table w(3, std::vector<double>(3, 0.0));
  w[0][2] = 1.0;
  const std::vector<double> g = Gradient(m, w);
  const std::vector<double> expected = {-2.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, -2.0 / 3,
                                        0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], expected[i], 1e-12) << i;
  EXPECT_NEAR(CrossEntropy(m, w), std::log(9.0), 1e-12);
}

TEST(MechanismsTest, SgdStepMovesAgainstTheGradient) {
  LogitModel m = Model3(Factorisation::kJoint);
  const std::vector<double> before = m.params, g = Gradient(m, Weights3());
  SgdStep(m, Weights3(), 0.5);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(m.params[i], before[i] - 0.5 * g[i]);
}

TEST(MechanismsTest, ModulesCoverTheParameters) {
  const auto causal = Modules(UniformModel(Factorisation::kCausal, 3));
  ASSERT_EQ(causal.size(), 4u);
  EXPECT_EQ(causal[0].offset, 0);
  EXPECT_EQ(causal[3].offset, 9);
  EXPECT_EQ(causal[3].size, 3);
  const auto joint = Modules(UniformModel(Factorisation::kJoint, 3));
  ASSERT_EQ(joint.size(), 1u);
  EXPECT_EQ(joint[0].size, 9);
}

MechanismSystem System3(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return RandomSystem(3, rng);
}

void ExpectDistribution(const std::vector<double>& p) {
  double sum = 0.0;
  for (double v : p) {
    EXPECT_GT(v, 0.0);
    sum += v;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(MechanismsTest, InterventionOnCauseChangesOnlyTheMarginal) {
  const MechanismSystem s = System3(1);
  std::mt19937_64 rng(7);
  const MechanismSystem t = InterveneOnCause(s, rng);
  ExpectDistribution(t.p_a);
  EXPECT_NE(t.p_a, s.p_a);
  EXPECT_EQ(t.p_b_given_a, s.p_b_given_a);
}

TEST(MechanismsTest, MechanismShiftChangesOnlyItsRow) {
  const MechanismSystem s = System3(2);
  std::mt19937_64 rng(7);
  const MechanismSystem t = ShiftMechanism(s, 1, rng);
  EXPECT_EQ(t.p_a, s.p_a);
  EXPECT_EQ(t.p_b_given_a[0], s.p_b_given_a[0]);
  EXPECT_EQ(t.p_b_given_a[2], s.p_b_given_a[2]);
  EXPECT_NE(t.p_b_given_a[1], s.p_b_given_a[1]);
  ExpectDistribution(t.p_b_given_a[1]);
}

TEST(MechanismsTest, EffectMarginalShiftKeepsCauseGivenEffect) {
  const MechanismSystem s = System3(3);
  std::mt19937_64 rng(7);
  const MechanismSystem t = ShiftEffectMarginal(s, rng);
  // The drawn P(B) is the first categorical the generator draws from rng.
  std::mt19937_64 replay(7);
  const std::vector<double> p_b = RandomCategorical(3, replay);
  const Table js = s.Joint(), jt = t.Joint();
  for (int b = 0; b < 3; ++b) {
    const double mass_s = js[0][b] + js[1][b] + js[2][b];
    const double mass_t = jt[0][b] + jt[1][b] + jt[2][b];
    EXPECT_NEAR(mass_t, p_b[b], 1e-12);
    for (int a = 0; a < 3; ++a) EXPECT_NEAR(jt[a][b] / mass_t, js[a][b] / mass_s, 1e-12);
  }
  ExpectDistribution(t.p_a);
}

TEST(MechanismsTest, SampledCountsApproachTheJoint) {
  const MechanismSystem s = System3(4);
  std::mt19937_64 rng(11);
  const Table counts = SampleCounts(s, 200000, rng), joint = s.Joint();
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      // 5 standard errors of a frequency of 200000 samples.
      const double se = std::sqrt(joint[a][b] * (1 - joint[a][b]) / 200000);
      EXPECT_NEAR(counts[a][b], joint[a][b], 5 * se + 1e-12);
    }
  }
}

TEST(MechanismsTest, PopulationGradientVanishesAtTheTruthForTheCausalModel) {
  // The causal model with logits log P(A), log P(B | A) is the truth: its
  // population gradient is zero, and the entropy is its cross-entropy.
  const MechanismSystem s = System3(5);
  LogitModel m = UniformModel(Factorisation::kCausal, 3);
  for (int a = 0; a < 3; ++a) {
    m.params[a] = std::log(s.p_a[a]);
    for (int b = 0; b < 3; ++b) m.params[3 + 3 * a + b] = std::log(s.p_b_given_a[a][b]);
  }
  for (double g : Gradient(m, s.Joint())) EXPECT_NEAR(g, 0.0, 1e-12);
  EXPECT_NEAR(CrossEntropy(m, s.Joint()), Entropy(s.Joint()), 1e-12);
}

TEST(MechanismsTest, GradientShareFractionChangedAndTotalVariation) {
  EXPECT_DOUBLE_EQ(GradientShare({3, 4, 0}, {0, 1}), 9.0 / 25);
  EXPECT_DOUBLE_EQ(GradientShare({0, 0}, {0, 1}), 0.0);
  // Changes (1, 0.05, -0.5, 0): beyond 0.1 * 1 are the first and third.
  EXPECT_DOUBLE_EQ(FractionChanged({0, 0, 0, 0}, {1, 0.05, -0.5, 0}, 0.1), 0.5);
  EXPECT_DOUBLE_EQ(FractionChanged({1, 2}, {1, 2}, 0.1), 0.0);
  // Rows: TV 0.5 * (0.2 + 0.2) = 0.2 and 0: mean 0.1.
  EXPECT_NEAR(MeanTotalVariation({{0.5, 0.5}, {1, 0}}, {{0.7, 0.3}, {1, 0}}), 0.1, 1e-12);
}

TEST(MechanismsTest, ConditionalsOfAJoint) {
  const Table joint = {{0.1, 0.3}, {0.2, 0.4}};
  const Table b_given_a = ConditionalOfSecondGivenFirst(joint);
  EXPECT_NEAR(b_given_a[0][1], 0.75, 1e-12);
  const Table a_given_b = ConditionalOfFirstGivenSecond(joint);
  EXPECT_NEAR(a_given_b[1][0], 0.3 / 0.7, 1e-12);  // P(A=0 | B=1)
  EXPECT_NEAR(ConditionalOfSecondGivenFirst({{0, 0}, {1, 1}})[0][0], 0.5, 1e-12);
}

}  // namespace
}  // namespace libra::cl
