#include "src/core/lora/lora_modules.h"

#include "gtest/gtest.h"

namespace libra {
namespace {

absl::StatusOr<SafetensorsFile> FileOf(const SafetensorsWriter& writer) {
  return SafetensorsFile::FromBytes(writer.Serialize(), "adapter.safetensors");
}

TEST(LoraModulesTest, PairsPeftTensorsByModuleInPathOrder) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("base_model.model.layers.1.q.lora_B.weight", Tensor::Zeros({3, 2})).ok());
  ASSERT_TRUE(w.Add("base_model.model.layers.1.q.lora_A.weight", Tensor::Zeros({2, 5})).ok());
  ASSERT_TRUE(w.Add("base_model.model.layers.0.q.lora_A.weight", Tensor({1, 2}, {1, 2})).ok());
  ASSERT_TRUE(w.Add("base_model.model.layers.0.q.lora_B.weight", Tensor({4, 1}, {1, 2, 3, 4})).ok());
  ASSERT_TRUE(w.Add("base_model.model.layers.0.q.bias", Tensor::Zeros({4})).ok());
  absl::StatusOr<SafetensorsFile> file = FileOf(w);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::vector<NamedLoraModule>> modules = ReadLoraModules(*file);
  ASSERT_TRUE(modules.ok()) << modules.status();
  ASSERT_EQ(modules->size(), 2u);
  EXPECT_EQ((*modules)[0].name, "layers.0.q");
  EXPECT_EQ((*modules)[1].name, "layers.1.q");
  EXPECT_EQ((*modules)[0].a.values(), (std::vector<float>{1, 2}));
  EXPECT_EQ((*modules)[0].b.shape(), (Shape{4, 1}));
  EXPECT_EQ((*modules)[1].a.shape(), (Shape{2, 5}));
}

TEST(LoraModulesTest, RejectsAnUnpairedFactorAndARankMismatch) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("m.lora_A.weight", Tensor::Zeros({2, 5})).ok());
  absl::Status s = ReadLoraModules(*FileOf(w)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("adapter.safetensors: module \"m\" has lora_A but no lora_B"),
            std::string::npos)
      << s;
  ASSERT_TRUE(w.Add("m.lora_B.weight", Tensor::Zeros({3, 4})).ok());
  s = ReadLoraModules(*FileOf(w)).status();
  EXPECT_NE(s.message().find("expected lora_A [r, in] and lora_B [out, r], got [2, 5] and [3, 4]"),
            std::string::npos)
      << s;
  SafetensorsWriter empty;
  ASSERT_TRUE(empty.Add("x", Tensor::Zeros({2})).ok());
  s = ReadLoraModules(*FileOf(empty)).status();
  EXPECT_NE(s.message().find("no LoRA modules"), std::string::npos) << s;
}

TEST(LoraModulesTest, IndexReadsShapesWithoutValues) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("q.lora_A", Tensor::Zeros({2, 5})).ok());
  ASSERT_TRUE(w.Add("q.lora_B", Tensor::Zeros({3, 2})).ok());
  absl::StatusOr<std::vector<LoraModuleInfo>> index = IndexLoraModules(*FileOf(w));
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ((*index)[0].a_tensor, "q.lora_A");
  EXPECT_EQ((*index)[0].b_shape, (Shape{3, 2}));
}

TEST(LoraModulesTest, ScaleFromMetadataFollowsPeftRules) {
  EXPECT_EQ(*LoraScaleFromMetadata({}, 4, "f"), 1.0f);
  EXPECT_EQ(*LoraScaleFromMetadata({{"lora_alpha", "16"}}, 4, "f"), 4.0f);
  EXPECT_EQ(*LoraScaleFromMetadata({{"lora_alpha", "16"}, {"use_rslora", "true"}}, 4, "f"), 8.0f);
  EXPECT_EQ(*LoraScaleFromMetadata({{"lora_scale", "0.5"}, {"lora_alpha", "16"}}, 4, "f"), 0.5f);
  absl::Status s = LoraScaleFromMetadata({{"lora_alpha", "sixteen"}}, 4, "e.safetensors").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("e.safetensors: metadata \"lora_alpha\": \"sixteen\" is not a number"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace libra
