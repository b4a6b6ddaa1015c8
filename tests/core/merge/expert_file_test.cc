#include "src/core/merge/expert_file.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/core/io/atomic_file.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::RandomTensor;
using Kind = ModuleDelta::Kind;

absl::StatusOr<ExpertFile> FromWriter(const SafetensorsWriter& writer) {
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::FromBytes(writer.Serialize(), "mem.safetensors");
  if (!file.ok()) return file.status();
  return ExpertFile::FromFile(*std::move(file));
}

TEST(ExpertFileTest, GroupsTensorsIntoModulesByKind) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("a.q.lora_A.weight", RandomTensor({4, 6}, 1)).ok());
  ASSERT_TRUE(writer.Add("a.q.lora_B.weight", RandomTensor({5, 4}, 2)).ok());
  ASSERT_TRUE(writer.Add("a.k.lora_A", RandomTensor({2, 6}, 3)).ok());
  ASSERT_TRUE(writer.Add("a.k.lora_B", RandomTensor({5, 2}, 4)).ok());
  ASSERT_TRUE(writer.Add("a.v.sparse.values", Tensor({2}, {1.0f, 2.0f})).ok());
  ASSERT_TRUE(writer.AddInt64("a.v.sparse.indices", {{2}, {3, 7}}).ok());
  ASSERT_TRUE(writer.AddInt64("a.v.sparse.shape", {{2}, {3, 4}}).ok());
  ASSERT_TRUE(writer.Add("a.o.delta.weight", RandomTensor({5, 6}, 5)).ok());
  ASSERT_TRUE(writer.Add("a.bias", RandomTensor({5}, 6)).ok());
  writer.SetMetadata("lora_alpha", "8");
  absl::StatusOr<ExpertFile> expert = FromWriter(writer);
  ASSERT_TRUE(expert.ok()) << expert.status();
  ASSERT_EQ(expert->modules().size(), 5u);
  EXPECT_EQ(expert->Find("a.q")->kind, Kind::kLora);
  EXPECT_EQ(expert->Find("a.q")->delta_shape, (Shape{5, 6}));
  EXPECT_EQ(expert->Find("a.k")->rank, 2);
  EXPECT_EQ(expert->Find("a.v")->kind, Kind::kSparse);
  EXPECT_EQ(expert->Find("a.v")->delta_shape, (Shape{3, 4}));
  EXPECT_EQ(expert->Find("a.o")->kind, Kind::kDense);
  EXPECT_EQ(expert->Find("a.bias")->delta_shape, (Shape{5}));
  // Scale alpha / r, per module rank.
  EXPECT_EQ(expert->Load(*expert->Find("a.q"))->lora.scale, 2.0f);
  EXPECT_EQ(expert->Load(*expert->Find("a.k"))->lora.scale, 4.0f);
  ModuleDelta sparse = *expert->Load(*expert->Find("a.v"));
  EXPECT_EQ(sparse.sparse.indices, (std::vector<int64_t>{3, 7}));
}

TEST(ExpertFileTest, ScaleFromRsLoraAndExplicitScale) {
  for (auto [key, value, rslora, expected] :
       std::vector<std::tuple<const char*, const char*, bool, float>>{
           {"lora_alpha", "8", true, 4.0f},  // 8 / sqrt(4)
           {"lora_scale", "0.5", false, 0.5f},
       }) {
    SafetensorsWriter writer;
    ASSERT_TRUE(writer.Add("m.lora_A.weight", RandomTensor({4, 3}, 1)).ok());
    ASSERT_TRUE(writer.Add("m.lora_B.weight", RandomTensor({3, 4}, 2)).ok());
    writer.SetMetadata(key, value);
    if (rslora) writer.SetMetadata("use_rslora", "true");
    absl::StatusOr<ExpertFile> expert = FromWriter(writer);
    ASSERT_TRUE(expert.ok());
    EXPECT_FLOAT_EQ(expert->Load(*expert->Find("m"))->lora.scale, expected) << key;
  }
}

TEST(ExpertFileTest, PeftFolderTakesScalingFromAdapterConfig) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/peft";
  std::filesystem::create_directories(dir);
  SafetensorsWriter writer;
  for (const char* module : {"base_model.model.layers.0.q_proj", "base_model.model.layers.0.v_proj"}) {
    ASSERT_TRUE(writer.Add(std::string(module) + ".lora_A.weight", RandomTensor({4, 6}, 1)).ok());
    ASSERT_TRUE(writer.Add(std::string(module) + ".lora_B.weight", RandomTensor({5, 4}, 2)).ok());
  }
  writer.SetMetadata("format", "pt");
  ASSERT_TRUE(writer.WriteAtomically(dir + "/adapter_model.safetensors").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/adapter_config.json",
                                  R"({"peft_type": "LORA", "r": 4, "lora_alpha": 16, "use_rslora": true,
                                      "alpha_pattern": {"v_proj": 4}})")
                  .ok());
  absl::StatusOr<ExpertFile> expert = ExpertFile::Open(dir);  // the folder itself
  ASSERT_TRUE(expert.ok()) << expert.status();
  EXPECT_FLOAT_EQ(expert->Find("layers.0.q_proj")->scale, 16.0f / 2.0f);
  EXPECT_FLOAT_EQ(expert->Find("layers.0.v_proj")->scale, 4.0f / 2.0f);

  ASSERT_TRUE(WriteFileAtomically(dir + "/adapter_config.json", R"({"peft_type": "IA3"})").ok());
  expert = ExpertFile::Open(dir + "/adapter_model.safetensors");
  EXPECT_TRUE(absl::StrContains(expert.status().message(), "peft_type \"IA3\" is not LORA"))
      << expert.status();
  // A peft_type that is no string once escaped as a nlohmann exception.
  ASSERT_TRUE(WriteFileAtomically(dir + "/adapter_config.json", R"({"peft_type": 7})").ok());
  expert = ExpertFile::Open(dir + "/adapter_model.safetensors");
  EXPECT_TRUE(absl::StrContains(expert.status().message(), "peft_type 7 is not LORA")) << expert.status();
}

TEST(ExpertFileTest, RejectsInconsistentModules) {
  struct Case {
    std::function<void(SafetensorsWriter*)> fill;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](SafetensorsWriter* w) { (void)w->Add("m.lora_B.weight", RandomTensor({3, 2}, 1)); },
       "module \"m\": needs exactly"},
      {[](SafetensorsWriter* w) {
         (void)w->Add("m.lora_A.weight", RandomTensor({2, 3}, 1));
         (void)w->Add("m.lora_B.weight", RandomTensor({3, 4}, 2));
       },
       "LoRA A [2, 3] and B [3, 4] are not [r, in] and [out, r]"},
      {[](SafetensorsWriter* w) {
         (void)w->Add("m.lora_A.weight", RandomTensor({2, 3}, 1));
         (void)w->Add("m.lora_B.weight", RandomTensor({3, 2}, 2));
         (void)w->Add("m.delta.weight", RandomTensor({3, 3}, 2));
       },
       "module \"m\": needs exactly"},
      {[](SafetensorsWriter* w) { (void)w->AddInt64("m.sparse.values", {{1}, {1}}); },
       "does not fit its role"},
      {[](SafetensorsWriter* w) {
         (void)w->Add("m.delta.weight", RandomTensor({3, 3}, 2));
         w->SetMetadata("lora_alpha", "sixteen");
       },
       "metadata \"lora_alpha\": \"sixteen\" is not a number"},
  };
  for (const Case& c : cases) {
    SafetensorsWriter writer;
    c.fill(&writer);
    absl::StatusOr<ExpertFile> expert = FromWriter(writer);
    EXPECT_EQ(expert.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_TRUE(absl::StrContains(expert.status().message(), c.message)) << expert.status();
    EXPECT_TRUE(absl::StrContains(expert.status().message(), "mem.safetensors")) << expert.status();
  }
}

}  // namespace
}  // namespace libra::merge
