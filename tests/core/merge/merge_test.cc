#include "src/core/merge/merge.h"

#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/core/merge/registry.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;
using testing::NaiveProduct;
using testing::RandomTensor;
using Kind = ModuleDelta::Kind;

const MethodSpec& Method(const char* name) { return **FindMethod(name); }

ModuleDelta Lora(int64_t out, int64_t rank, int64_t in, float scale, uint32_t seed) {
  ModuleDelta m;
  m.kind = Kind::kLora;
  m.lora = {RandomTensor({rank, in}, seed), RandomTensor({out, rank}, seed + 1), scale};
  return m;
}

ModuleDelta Dense(Tensor t) {
  ModuleDelta m;
  m.kind = Kind::kDense;
  m.dense = std::move(t);
  return m;
}

Tensor DenseOf(const ModuleDelta& m) {
  switch (m.kind) {
    case Kind::kLora:
      return Tensor({m.lora.b.dim(0), m.lora.a.dim(1)}, NaiveProduct(m.lora.b, m.lora.a, m.lora.scale));
    case Kind::kSparse:
      return Densify(m.sparse);
    default:
      return m.dense;
  }
}

MergeParams Bind(const char* name, MergeArguments args, int n) {
  absl::StatusOr<MergeParams> params = BindParams(Method(name), args, n);
  EXPECT_TRUE(params.ok()) << params.status();
  params->threads = 2;
  return *params;
}

TEST(MergeModuleTest, MixedTypesMergeInDeltaSpace) {
  ModuleDelta sparse;
  sparse.kind = Kind::kSparse;
  sparse.sparse = {{12, 10}, {3, 50, 119}, {1.0f, -2.0f, 0.5f}};
  const std::vector<ModuleDelta> experts = {Lora(12, 2, 10, 2.0f, 1), Dense(RandomTensor({12, 10}, 5)),
                                            sparse};
  MergeArguments args;
  args.per_expert["weight"] = {1.0, 2.0, -1.0};
  absl::StatusOr<ModuleDelta> merged =
      MergeModule(Method("linear"), Bind("linear", args, 3), {}, "h.0.q", experts);
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_EQ(merged->kind, Kind::kDense);
  std::vector<float> expected(120);
  for (int j = 0; j < 120; ++j) {
    expected[j] = DenseOf(experts[0]).at(j) + 2 * experts[1].dense.at(j) - DenseOf(experts[2]).at(j);
  }
  EXPECT_TRUE(AllClose(merged->dense.values(), expected, 1e-5f, 1e-4f));
}

TEST(MergeModuleTest, TiesOnLorasEqualsTiesOnTheirDenseDeltas) {
  const std::vector<ModuleDelta> loras = {Lora(24, 3, 20, 1.0f, 1), Lora(24, 2, 20, 0.5f, 3),
                                          Lora(24, 4, 20, 2.0f, 5)};
  MergeArguments args;
  args.scalars["density"] = 0.3;
  const MergeParams params = Bind("ties", args, 3);
  absl::StatusOr<ModuleDelta> merged = MergeModule(Method("ties"), params, {}, "m", loras);
  ASSERT_TRUE(merged.ok());
  std::vector<Tensor> dense;
  for (const ModuleDelta& l : loras) dense.push_back(DenseOf(l));
  absl::StatusOr<Tensor> expected = Merge(Method("ties"), nullptr, dense, params);
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(AllClose(merged->dense.values(), expected->values(), 1e-5f, 1e-4f));
}

TEST(MergeModuleTest, SvdAtFullRankReproducesDelta) {
  const std::vector<ModuleDelta> loras = {Lora(16, 2, 14, 1.0f, 1), Lora(16, 3, 14, 0.5f, 3)};
  for (const char* name : {"linear", "ties", "dare_ties"}) {
    MergeArguments args;
    if (std::string(name) != "linear") args.scalars["density"] = 0.5;
    const MergeParams params = Bind(name, args, 2);
    absl::StatusOr<ModuleDelta> delta = MergeModule(Method(name), params, {}, "m", loras);
    MergeOptions svd{LoraMode::kSvd, 14};
    absl::StatusOr<ModuleDelta> refactored = MergeModule(Method(name), params, svd, "m", loras);
    ASSERT_TRUE(delta.ok() && refactored.ok()) << name;
    ASSERT_EQ(refactored->kind, Kind::kLora);
    EXPECT_EQ(refactored->lora.a.shape(), (Shape{14, 14}));
    EXPECT_TRUE(AllClose(DenseOf(*refactored).values(), delta->dense.values(), 1e-4f, 1e-3f))
        << name;
  }
}

TEST(MergeModuleTest, AbModeAveragesFactorsAndIsRefusedElsewhere) {
  const std::vector<ModuleDelta> loras = {Lora(6, 2, 5, 1.0f, 1), Lora(6, 2, 5, 1.0f, 3)};
  absl::StatusOr<ModuleDelta> merged = MergeModule(
      Method("uniform"), Bind("uniform", {}, 2), {LoraMode::kAb, 0}, "m", loras);
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->kind, Kind::kLora);
  for (int j = 0; j < 10; ++j) {
    EXPECT_FLOAT_EQ(merged->lora.a.at(j), 0.5f * (loras[0].lora.a.at(j) + loras[1].lora.a.at(j)));
  }
  MergeArguments args;
  args.scalars["density"] = 0.5;
  absl::Status refused = CheckMode(Method("ties"), {LoraMode::kAb, 0});
  EXPECT_TRUE(absl::StrContains(refused.message(), "only with linear and uniform"));
  absl::StatusOr<ModuleDelta> dense_ab =
      MergeModule(Method("linear"), Bind("linear", {}, 2), {LoraMode::kAb, 0}, "h.1.v",
                  {loras[0], Dense(RandomTensor({6, 5}, 9))});
  EXPECT_TRUE(absl::StrContains(dense_ab.status().message(), "needs every expert to be a LoRA"));
  EXPECT_FALSE(CheckMode(Method("linear"), {LoraMode::kSvd, 0}).ok());
}

TEST(MergeModuleTest, ShapeMismatchNamesTheModule) {
  absl::StatusOr<ModuleDelta> merged =
      MergeModule(Method("linear"), Bind("linear", {}, 2), {}, "h.3.q",
                  {Lora(16, 2, 8, 1.0f, 1), Lora(16, 2, 9, 1.0f, 2)});
  EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(merged.status().message(),
                                "module \"h.3.q\": expert 1: expected delta [16, 8], got [16, 9]"))
      << merged.status();
}

TEST(MergeModuleTest, SparseOverlapOfSparseExpertsStaysSparse) {
  ModuleDelta a, b;
  a.kind = b.kind = Kind::kSparse;
  a.sparse = {{3, 3}, {0, 4}, {2.0f, 4.0f}};
  b.sparse = {{3, 3}, {4, 8}, {2.0f, 1.0f}};
  absl::StatusOr<ModuleDelta> merged =
      MergeModule(Method("sparse_overlap"), Bind("sparse_overlap", {}, 2), {}, "m", {a, b});
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->kind, Kind::kSparse);
  EXPECT_EQ(merged->sparse.indices, (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(merged->sparse.values, (std::vector<float>{2.0f, 3.0f, 1.0f}));
}

}  // namespace
}  // namespace libra::merge
