#include "src/core/arrow/expert_prototypes.h"

#include <random>

#include "gtest/gtest.h"
#include "src/core/arrow/prototype.h"

namespace libra::arrow {
namespace {

Tensor Random(Shape shape, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Tensor t = Tensor::Zeros(shape);
  for (float& v : t.values()) v = normal(rng);
  return t;
}

std::vector<NamedLoraModule> Modules(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<NamedLoraModule> modules;
  modules.push_back({"layers.0.k", Random({3, 10}, rng), Random({6, 3}, rng)});
  modules.push_back({"layers.0.q", Random({3, 10}, rng), Random({10, 3}, rng)});
  return modules;
}

TEST(ExpertPrototypesTest, ComputesEveryModuleAndRoundTripsThroughAFile) {
  const std::vector<NamedLoraModule> modules = Modules(1);
  absl::StatusOr<ExpertPrototypes> protos = ComputeExpertPrototypes(modules, 2.0f, /*top_k=*/2);
  ASSERT_TRUE(protos.ok()) << protos.status();
  ASSERT_EQ(protos->modules.size(), 2u);
  for (size_t m = 0; m < modules.size(); ++m) {
    absl::StatusOr<SingularTriplets> direct =
        TopSingularTriplets(modules[m].a, modules[m].b, 2.0f, 2);
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(protos->modules[m].module, modules[m].name);
    EXPECT_EQ(protos->modules[m].vectors.values(), direct->right.values());
    EXPECT_EQ(protos->modules[m].values, direct->values);
  }
  protos->source_hash = "sha256:abc";
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/arrow.safetensors";
  ASSERT_TRUE(WriteExpertPrototypes(*protos, path).ok());
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<ExpertPrototypes> back = ReadExpertPrototypes(*file);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->source_hash, "sha256:abc");
  EXPECT_EQ(back->top_k, 2);
  EXPECT_EQ(back->scale, 2.0f);
  ASSERT_EQ(back->modules.size(), 2u);
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_EQ(back->modules[m].module, protos->modules[m].module);
    EXPECT_EQ(back->modules[m].vectors.values(), protos->modules[m].vectors.values());
    EXPECT_EQ(back->modules[m].values, protos->modules[m].values);
  }
}

TEST(ExpertPrototypesTest, StacksRowZeroOfEachExpert) {
  absl::StatusOr<ExpertPrototypes> e0 = ComputeExpertPrototypes(Modules(1), 1.0f, 2);
  absl::StatusOr<ExpertPrototypes> e1 = ComputeExpertPrototypes(Modules(2), 1.0f, 1);
  ASSERT_TRUE(e0.ok() && e1.ok());
  const ExpertPrototypes* experts[] = {&*e0, &*e1};
  absl::StatusOr<Tensor> stacked = StackPrototypes(experts, "layers.0.q");
  ASSERT_TRUE(stacked.ok()) << stacked.status();
  ASSERT_EQ(stacked->shape(), (Shape{2, 10}));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(stacked->at(i), e0->Find("layers.0.q")->vectors.at(i));
    EXPECT_EQ(stacked->at(10 + i), e1->Find("layers.0.q")->vectors.at(i));
  }
  absl::Status s = StackPrototypes(experts, "layers.9.v").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("expert 0 has no prototype for module \"layers.9.v\""),
            std::string::npos)
      << s;
}

TEST(ExpertPrototypesTest, RejectsAFileThatIsNotAPrototypeFile) {
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("m.lora_A.weight", Tensor::Zeros({2, 5})).ok());
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::FromBytes(w.Serialize(), "x.safetensors");
  ASSERT_TRUE(file.ok());
  absl::Status s = ReadExpertPrototypes(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("x.safetensors: metadata format must be \"libra.arrow_prototypes\""),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace libra::arrow
