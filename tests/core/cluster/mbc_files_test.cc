#include "src/core/cluster/mbc_files.h"

#include <random>

#include "gtest/gtest.h"
#include "src/core/io/safetensors.h"

namespace libra::cluster {
namespace {

std::string Temp(const std::string& name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

// Writes 9 experts (3 planted clusters) with two modules each; returns the
// paths and, per expert, the vector FlattenLora would build.
void WriteLibrary(std::vector<std::string>* paths, std::vector<std::vector<float>>* vectors,
                  std::vector<int>* planted) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> centres(3, std::vector<float>(2 * (3 * 16 + 16 * 3)));
  for (auto& c : centres)
    for (float& v : c) v = normal(rng);
  for (int e = 0; e < 9; ++e) {
    const int cluster = (e * 2) % 3;  // 0 2 1 0 2 1 ...
    std::vector<float> flat(centres[cluster].size());
    for (size_t i = 0; i < flat.size(); ++i) flat[i] = centres[cluster][i] + 0.3f * normal(rng);
    // Module order "k" < "q"; each module: A [3, 16] then B [16, 3].
    SafetensorsWriter w;
    size_t offset = 0;
    for (const char* module : {"k", "q"}) {
      Tensor a({3, 16}, std::vector<float>(flat.begin() + offset, flat.begin() + offset + 48));
      Tensor b({16, 3}, std::vector<float>(flat.begin() + offset + 48, flat.begin() + offset + 96));
      offset += 96;
      // Written B first, under PEFT names, to check the reader's ordering.
      ASSERT_TRUE(w.Add(std::string("base_model.model.") + module + ".lora_B.weight", b).ok());
      ASSERT_TRUE(w.Add(std::string("base_model.model.") + module + ".lora_A.weight", a).ok());
    }
    paths->push_back(Temp("expert" + std::to_string(e) + ".safetensors"));
    ASSERT_TRUE(w.WriteAtomically(paths->back()).ok());
    vectors->push_back(flat);
    planted->push_back(cluster);
  }
}

TEST(MbcFilesTest, StreamingOverFilesEqualsTheInMemoryPipeline) {
  std::vector<std::string> paths;
  std::vector<std::vector<float>> vectors;
  std::vector<int> planted;
  WriteLibrary(&paths, &vectors, &planted);
  MbcOptions options;
  options.k = 3;
  absl::StatusOr<MbcResult> from_files = ClusterLoraFiles(paths, options);
  absl::StatusOr<MbcResult> in_memory = ClusterExperts(vectors, options);
  ASSERT_TRUE(from_files.ok()) << from_files.status();
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  EXPECT_EQ(from_files->assignment, in_memory->assignment);
  for (int64_t i = 0; i < 81; ++i) {
    EXPECT_NEAR(from_files->similarity.at(i), in_memory->similarity.at(i), 1e-5);
  }
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 9; ++j)
      EXPECT_EQ(from_files->assignment[i] == from_files->assignment[j], planted[i] == planted[j]);
}

TEST(MbcFilesTest, RejectsExpertsOfDifferentShapes) {
  std::vector<std::string> paths;
  std::vector<std::vector<float>> vectors;
  std::vector<int> planted;
  WriteLibrary(&paths, &vectors, &planted);
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("k.lora_A.weight", Tensor::Zeros({2, 16})).ok());
  ASSERT_TRUE(w.Add("k.lora_B.weight", Tensor::Zeros({16, 2})).ok());
  paths.push_back(Temp("odd.safetensors"));
  ASSERT_TRUE(w.WriteAtomically(paths.back()).ok());
  MbcOptions options;
  options.k = 2;
  absl::Status s = ClusterLoraFiles(paths, options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("odd.safetensors: LoRA modules or shapes differ from"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace libra::cluster
