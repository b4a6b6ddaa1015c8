#include "src/cli/merge_config.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace libra::cli {
namespace {

TEST(MergeConfigTest, ReadsMergekitStyleYaml) {
  absl::StatusOr<MergeConfig> config = ParseMergeConfig(R"(
merge_method: ties
base_model: phi-2
models:
  - model: arithmetic
    parameters: {weight: 1.0, density: 0.3}
  - model: sub/algebra.safetensors
    parameters:
      weight: 0.5
      density: 0.5
parameters:
  lambda: 0.8
  normalize: true
dtype: bfloat16
mode: svd
rank: 8
)", "merge.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->method, "ties");
  EXPECT_EQ(config->models, (std::vector<std::string>{"arithmetic", "sub/algebra.safetensors"}));
  EXPECT_EQ(config->args.per_expert.at("weight"), (std::vector<double>{1.0, 0.5}));
  EXPECT_EQ(config->args.per_expert.at("density"), (std::vector<double>{0.3, 0.5}));
  EXPECT_EQ(config->args.scalars.at("lambda"), 0.8);
  EXPECT_EQ(config->args.scalars.at("normalize"), 1.0);
  EXPECT_EQ(config->dtype, DType::kBF16);
  EXPECT_EQ(config->mode, "svd");
  EXPECT_EQ(config->rank, 8);
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_TRUE(absl::StrContains(config->warnings[0], "base_model is ignored"));
}

TEST(MergeConfigTest, RejectsMalformedConfigsWithTheFileNamed) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  for (const Case& c : {
           Case{"models: [{model: a}]", "missing merge_method"},
           Case{"merge_method: linear\nmodels: []", "non-empty list"},
           Case{"merge_method: linear\nmodels: [{model: a}]\nslices: 3", "unknown key \"slices\""},
           Case{"merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b}]",
                "parameter \"weight\" given for 1 of 2 models"},
           Case{"merge_method: linear\nmodels: [{model: a, parameters: {weight: [1, 2]}}]",
                "models[0].parameters.weight must be a number"},
           Case{"merge_method: linear\nmodels: [{model: a}]\ndtype: int8", "dtype \"int8\""},
           Case{"merge_method: [linear\nmodels: {", "YAML:"},
           // Found by the merge_yaml fuzz target: a cast of -inf to int64.
           Case{"merge_method: ties\nmodels: [{model: a}]\nmode: svd\nrank: -.inf", "rank must be a whole number"},
           Case{"merge_method: ties\nmodels: [{model: a}]\nrank: 1e30", "rank must be a whole number"},
           Case{"merge_method: ties\nmodels: [{model: a}]\nrank: 2.5", "rank must be a whole number"},
       }) {
    absl::StatusOr<MergeConfig> config = ParseMergeConfig(c.yaml, "bad.yaml");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_TRUE(absl::StrContains(config.status().message(), c.message)) << config.status();
    EXPECT_TRUE(absl::StrContains(config.status().message(), "(bad.yaml)")) << config.status();
  }
}

}  // namespace
}  // namespace libra::cli
