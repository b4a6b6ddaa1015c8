// Contract test over every registered method (mergekit's regression style):
// each rejects bad parameters before any arithmetic and merges valid input.
#include "src/core/merge/registry.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/core/merge/merge.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::RandomTensor;

bool Takes(const MethodSpec& method, const std::string& name) {
  for (const ParamSpec& param : method.params) {
    if (name == param.name) return true;
  }
  return false;
}

// Smallest valid arguments: every required parameter at a legal value.
MergeArguments ValidArguments(const MethodSpec& method) {
  MergeArguments args;
  for (const ParamSpec& param : method.params) {
    if (param.required) args.scalars[param.name] = 0.5;
  }
  return args;
}

TEST(RegistryTest, UnknownMethodIsNotFoundAndListsKnownNames) {
  absl::StatusOr<const MethodSpec*> method = FindMethod("tiez");
  ASSERT_EQ(method.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(method.status().message(), "tiez"));
  for (const MethodSpec& known : AllMethods()) {
    EXPECT_TRUE(absl::StrContains(method.status().message(), known.name));
  }
}

TEST(RegistryTest, ListsTheIssuesMethods) {
  for (const char* name : {"linear", "uniform", "task_arithmetic", "ties", "dare_linear",
                           "dare_ties", "magnitude_prune", "breadcrumbs", "sparse_overlap"}) {
    absl::StatusOr<const MethodSpec*> method = FindMethod(name);
    ASSERT_TRUE(method.ok()) << name;
    EXPECT_STREQ((*method)->name, name);
    EXPECT_TRUE(absl::StartsWith((*method)->paper_url, "https://")) << name;
  }
}

TEST(RegistryContractTest, EveryMethodRejectsBadParametersBeforeMerging) {
  for (const MethodSpec& method : AllMethods()) {
    SCOPED_TRACE(method.name);
    MergeArguments unknown = ValidArguments(method);
    unknown.scalars["no_such_param"] = 1.0;
    absl::StatusOr<MergeParams> bound = BindParams(method, unknown, 3);
    EXPECT_EQ(bound.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(bound.status().message(), "no_such_param"));

    EXPECT_FALSE(BindParams(method, ValidArguments(method), 0).ok());

    if (Takes(method, "density")) {
      for (double density : {0.0, -0.1, 1.5, std::nan("")}) {
        MergeArguments args = ValidArguments(method);
        args.scalars["density"] = density;
        bound = BindParams(method, args, 3);
        EXPECT_EQ(bound.status().code(), absl::StatusCode::kInvalidArgument) << density;
        EXPECT_TRUE(absl::StrContains(bound.status().message(), "density")) << density;
      }
      MergeArguments missing;
      bound = BindParams(method, missing, 3);
      EXPECT_TRUE(absl::StrContains(bound.status().message(), "missing required"));
    } else {
      MergeArguments args = ValidArguments(method);
      args.scalars["density"] = 0.5;
      EXPECT_FALSE(BindParams(method, args, 3).ok());
    }
    if (Takes(method, "weight")) {
      MergeArguments args = ValidArguments(method);
      args.per_expert["weight"] = {1.0, 2.0};
      bound = BindParams(method, args, 3);
      EXPECT_EQ(bound.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StrContains(bound.status().message(), "2 values of \"weight\" for 3"));
    }
  }
}

TEST(RegistryContractTest, EveryMethodMergesValidInputAndRejectsShapeMismatch) {
  const std::vector<Tensor> experts = {RandomTensor({5, 6}, 1), RandomTensor({5, 6}, 2),
                                       RandomTensor({5, 6}, 3)};
  const std::vector<Tensor> mismatched = {RandomTensor({5, 6}, 1), RandomTensor({6, 5}, 2)};
  for (const MethodSpec& method : AllMethods()) {
    SCOPED_TRACE(method.name);
    absl::StatusOr<MergeParams> params = BindParams(method, ValidArguments(method), 3);
    ASSERT_TRUE(params.ok()) << params.status();
    absl::StatusOr<Tensor> merged = Merge(method, nullptr, experts, *params);
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_EQ(merged->shape(), (Shape{5, 6}));
    for (float v : merged->values()) EXPECT_TRUE(std::isfinite(v));

    params = BindParams(method, ValidArguments(method), 2);
    ASSERT_TRUE(params.ok());
    merged = Merge(method, nullptr, mismatched, *params);
    EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(merged.status().message(), "expected shape [5, 6], got [6, 5]"))
        << merged.status();
  }
}

TEST(BindParamsTest, BroadcastsScalarsAndFillsDefaults) {
  absl::StatusOr<const MethodSpec*> ties = FindMethod("ties");
  ASSERT_TRUE(ties.ok());
  MergeArguments args;
  args.scalars["density"] = 0.3;
  args.per_expert["weight"] = {1.0, 2.0};
  absl::StatusOr<MergeParams> params = BindParams(**ties, args, 2);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->densities, (std::vector<double>{0.3, 0.3}));
  EXPECT_EQ(params->weights, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(params->lambda, 1.0);
}

TEST(BindParamsTest, BreadcrumbsRejectsDensityPlusBetaAboveOne) {
  absl::StatusOr<const MethodSpec*> method = FindMethod("breadcrumbs");
  ASSERT_TRUE(method.ok());
  MergeArguments args;
  args.scalars["density"] = 0.9;
  args.scalars["beta"] = 0.2;
  absl::StatusOr<MergeParams> params = BindParams(**method, args, 2);
  EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(params.status().message(), "exceeds 1"));
}

TEST(BindParamsTest, NormalizeWithWeightsSummingToZeroIsRejected) {
  absl::StatusOr<const MethodSpec*> linear = FindMethod("linear");
  ASSERT_TRUE(linear.ok());
  MergeArguments args;
  args.scalars["normalize"] = 1;
  args.per_expert["weight"] = {1.0, -1.0};
  EXPECT_TRUE(absl::StrContains(BindParams(**linear, args, 2).status().message(), "sum to 0"));
}

TEST(BindParamsTest, UniformIgnoresNothingAndAveragesEqually) {
  absl::StatusOr<const MethodSpec*> uniform = FindMethod("uniform");
  ASSERT_TRUE(uniform.ok());
  absl::StatusOr<MergeParams> params = BindParams(**uniform, MergeArguments{}, 4);
  ASSERT_TRUE(params.ok());
  EXPECT_TRUE(params->normalize);
  EXPECT_EQ(params->weights, std::vector<double>(4, 1.0));
}

}  // namespace
}  // namespace libra::merge
