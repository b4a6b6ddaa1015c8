#include "src/core/arrow/router.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "gtest/gtest.h"

namespace libra::arrow {
namespace {

Tensor Random(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Tensor t = Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

// The plain loop: double logits, full sort, softmax over the top k.
void Reference(const Tensor& x, const Tensor& p, int k, double temperature, int64_t t,
               std::vector<int>* experts, std::vector<double>* weights) {
  const int64_t e_count = p.dim(0), dim = p.dim(1);
  std::vector<double> logit(e_count);
  for (int64_t e = 0; e < e_count; ++e) {
    double dot = 0;
    for (int64_t i = 0; i < dim; ++i) dot += double(x.at(t * dim + i)) * p.at(e * dim + i);
    logit[e] = std::fabs(dot) / temperature;
  }
  std::vector<int> order(e_count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logit[a] > logit[b]; });
  experts->assign(order.begin(), order.begin() + k);
  double total = 0;
  weights->clear();
  for (int j = 0; j < k; ++j) {
    weights->push_back(std::exp(logit[order[j]] - logit[order[0]]));
    total += weights->back();
  }
  for (double& w : *weights) w /= total;
}

TEST(RouterTest, MatchesAPlainLoop) {
  const int64_t tokens = 13, dim = 19, experts = 7;  // 19: exercises the tail loop
  const Tensor x = Random({tokens, dim}, 1);
  const Tensor p = Random({experts, dim}, 2);
  for (int k : {1, 3, 7}) {
    for (float temperature : {1.0f, 0.5f, 4.0f}) {
      RouterOptions options;
      options.top_k = k;
      options.temperature = temperature;
      absl::StatusOr<Routing> r = Route(x, p, options);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->tokens, tokens);
      ASSERT_EQ(r->experts.size(), size_t(tokens * k));
      for (int64_t t = 0; t < tokens; ++t) {
        std::vector<int> want_experts;
        std::vector<double> want_weights;
        Reference(x, p, k, temperature, t, &want_experts, &want_weights);
        for (int j = 0; j < k; ++j) {
          EXPECT_EQ(r->experts[t * k + j], want_experts[j]) << "token " << t << " slot " << j;
          EXPECT_NEAR(r->weights[t * k + j], want_weights[j], 1e-5);
        }
      }
    }
  }
}

TEST(RouterTest, UsesAbsoluteValueAndBreaksTiesByLowerIndex) {
  // Token [1, 0]; prototypes: e0 = [0, 1] (score 0), e1 = [-1, 0] (score 1),
  // e2 = [1, 0] (score 1, tie with e1), e3 = [0.5, 0] (score 0.5).
  const Tensor x({2}, {1, 0});
  const Tensor p({4, 2}, {0, 1, -1, 0, 1, 0, 0.5f, 0});
  RouterOptions options;
  options.top_k = 3;
  absl::StatusOr<Routing> r = Route(x, p, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->experts, (std::vector<int32_t>{1, 2, 3}));
  const double z = 2 + std::exp(-0.5);
  EXPECT_NEAR(r->weights[0], 1 / z, 1e-6);
  EXPECT_NEAR(r->weights[1], 1 / z, 1e-6);
  EXPECT_NEAR(r->weights[2], std::exp(-0.5) / z, 1e-6);
}

TEST(RouterTest, LogitsAreAbsoluteDotsOverTemperature) {
  const Tensor x({2, 3}, {1, 2, 3, -1, 0, 1});
  const Tensor p({2, 3}, {1, 0, 0, 0, -1, 1});
  absl::StatusOr<Tensor> logits = ArrowLogits(x, p, 2.0f);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->values(), (std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}));
}

TEST(RouterTest, DotMatchesDoubleSumForEveryLength) {
  for (int n = 0; n <= 41; ++n) {
    const Tensor a = Random({n}, 100 + n), b = Random({n}, 200 + n);
    double want = 0;
    for (int i = 0; i < n; ++i) want += double(a.at(i)) * b.at(i);
    EXPECT_NEAR(Dot(a.data(), b.data(), n), want, 1e-5 * (1 + n)) << n;
  }
}

TEST(RouterTest, NaNScoresNeverProduceAnInvalidExpert) {
  const Tensor x({2}, {std::nanf(""), 1});
  const Tensor p({3, 2}, {1, 0, 0, 1, 1, 1});
  RouterOptions options;
  options.top_k = 2;
  absl::StatusOr<Routing> r = Route(x, p, options);
  ASSERT_TRUE(r.ok());
  for (int32_t e : r->experts) EXPECT_TRUE(e >= 0 && e < 3);
}

TEST(RouterTest, RejectsBadOptionsAndShapes) {
  const Tensor x = Random({4, 8}, 3), p = Random({3, 8}, 4);
  RouterOptions options;
  options.top_k = 4;
  absl::Status s = Route(x, p, options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("top_k must be in [1, 3]"), std::string::npos) << s;
  options.top_k = 2;
  options.temperature = 0;
  s = Route(x, p, options).status();
  EXPECT_NE(s.message().find("temperature must be finite and > 0"), std::string::npos) << s;
  options.temperature = 1;
  s = Route(Random({4, 7}, 5), p, options).status();
  EXPECT_NE(s.message().find("hidden states must be [tokens, 8]"), std::string::npos) << s;
}

}  // namespace
}  // namespace libra::arrow
