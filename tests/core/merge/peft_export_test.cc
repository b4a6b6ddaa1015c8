#include "src/core/merge/peft_export.h"

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/merge/expert_file.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::RandomTensor;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(PeftExportTest, WritesConfigAndPrefixedTensorsThatReload) {
  // Two modules of rank 4, one of rank 2, with scale 3 to fold into B.
  SafetensorsWriter merged;
  const Tensor a = RandomTensor({4, 6}, 1), b = RandomTensor({5, 4}, 2);
  for (const char* module : {"layers.0.self_attn.q_proj", "layers.0.self_attn.v_proj"}) {
    ASSERT_TRUE(merged.Add(LoraATensorName(module), a).ok());
    ASSERT_TRUE(merged.Add(LoraBTensorName(module), b).ok());
  }
  ASSERT_TRUE(merged.Add(LoraATensorName("layers.0.mlp.fc1"), RandomTensor({2, 6}, 3)).ok());
  ASSERT_TRUE(merged.Add(LoraBTensorName("layers.0.mlp.fc1"), RandomTensor({5, 2}, 4)).ok());
  merged.SetMetadata("lora_scale", "3");
  ASSERT_TRUE(merged.WriteAtomically(TempPath("merged.safetensors")).ok());

  ASSERT_TRUE(ExportMergedLoraAsPeft(TempPath("merged.safetensors"), TempPath("peft"), "phi-2").ok());
  const nlohmann::json config = nlohmann::json::parse(*ReadFile(TempPath("peft/adapter_config.json")));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["base_model_name_or_path"], "phi-2");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 4);
  // The library exporter's config (PeftConfigFor): the pattern key drops the
  // first component, which selects the module alone under both the current
  // and the older PEFT rule; targets are the exact module names.
  EXPECT_EQ(config["rank_pattern"], nlohmann::json({{"0.mlp.fc1", 2}}));
  EXPECT_EQ(config["alpha_pattern"], nlohmann::json({{"0.mlp.fc1", 2}}));
  EXPECT_EQ(config["target_modules"], nlohmann::json({"layers.0.mlp.fc1", "layers.0.self_attn.q_proj",
                                                      "layers.0.self_attn.v_proj"}));

  SafetensorsFile adapter = *SafetensorsFile::Open(TempPath("peft/adapter_model.safetensors"));
  const std::string name = std::string(kPeftModulePrefix) + "layers.0.self_attn.q_proj";
  EXPECT_EQ(adapter.ReadFloat(name + ".lora_A.weight")->values(), a.values());
  Tensor reloaded_b = *adapter.ReadFloat(name + ".lora_B.weight");
  for (int64_t j = 0; j < b.size(); ++j) EXPECT_FLOAT_EQ(reloaded_b.at(j), 3.0f * b.at(j));
  // libra reads the export back as an expert with scale 1.
  absl::StatusOr<ExpertFile> expert = ExpertFile::Open(TempPath("peft/adapter_model.safetensors"));
  ASSERT_TRUE(expert.ok()) << expert.status();
  ASSERT_NE(expert->Find("layers.0.self_attn.q_proj"), nullptr);  // prefix dropped on reload
  EXPECT_EQ(expert->Load(*expert->Find("layers.0.self_attn.q_proj"))->lora.scale, 1.0f);
}

TEST(PeftExportTest, RefusesDenseModules) {
  SafetensorsWriter merged;
  ASSERT_TRUE(merged.Add("layers.0.q_proj.delta.weight", RandomTensor({5, 6}, 1)).ok());
  ASSERT_TRUE(merged.WriteAtomically(TempPath("dense.safetensors")).ok());
  absl::Status status = ExportMergedLoraAsPeft(TempPath("dense.safetensors"), TempPath("peft2"), "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "module \"layers.0.q_proj\" is not one"));
}

}  // namespace
}  // namespace libra::merge
