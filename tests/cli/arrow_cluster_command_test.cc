// End-to-end tests of `libra arrow` and `libra cluster`: the real binary on
// small expert folders, results checked against independent computations.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/run_command.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"

namespace libra {
namespace {

constexpr int64_t kOut = 8, kIn = 10, kRank = 2;

class ArrowClusterCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }

  // Expert `name` = centre(cluster) + noise, modules m0, m1, alpha 4 (scale 2).
  void WriteExpert(const std::string& name, int cluster, uint32_t seed) {
    std::mt19937 centre_rng(1000 + cluster), noise_rng(seed);
    std::normal_distribution<float> normal;
    SafetensorsWriter writer;
    for (int m = 0; m < 2; ++m) {
      Tensor a = Tensor::Zeros({kRank, kIn}), b = Tensor::Zeros({kOut, kRank});
      for (float& v : a.values()) v = normal(centre_rng);
      for (float& v : b.values()) v = normal(centre_rng);
      for (float& v : a.values()) v += 0.2f * normal(noise_rng);
      for (float& v : b.values()) v += 0.2f * normal(noise_rng);
      const std::string module = "base_model.model.layers." + std::to_string(m) + ".q_proj";
      ASSERT_TRUE(writer.Add(module + ".lora_A.weight", a).ok());
      ASSERT_TRUE(writer.Add(module + ".lora_B.weight", b).ok());
      factors_[name].push_back({a, b});
    }
    writer.SetMetadata("lora_alpha", "4");
    ASSERT_TRUE(writer.WriteAtomically(dir_ + "/" + name + ".safetensors").ok());
  }

  CommandResult Libra(const std::string& args) const {
    return RunCommand("src/cli/libra " + args + " 2>&1");
  }

  std::string dir_;
  std::map<std::string, std::vector<std::pair<Tensor, Tensor>>> factors_;
};

TEST_F(ArrowClusterCommandTest, ArrowComputesStoresAndRecomputesOnlyChangedExperts) {
  WriteExpert("alpha", 0, 1);
  WriteExpert("beta", 1, 2);
  SafetensorsWriter dense;  // a non-LoRA expert is skipped
  ASSERT_TRUE(dense.Add("layers.0.q_proj.delta", Tensor::Zeros({kOut, kIn})).ok());
  ASSERT_TRUE(dense.WriteAtomically(dir_ + "/gamma.safetensors").ok());

  CommandResult first = Libra("arrow " + dir_ + " --json");
  ASSERT_EQ(first.code, 0) << first.output;
  nlohmann::json report = nlohmann::json::parse(first.output);
  EXPECT_EQ(report["computed"], nlohmann::json({"alpha", "beta"}));
  EXPECT_EQ(report["skipped"], nlohmann::json({"gamma"}));

  // The stored prototype is the top right singular vector of 2 B A (dense SVD here).
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(dir_ + "/aux/arrow/alpha.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  for (int m = 0; m < 2; ++m) {
    const auto& [a, b] = factors_["alpha"][m];
    Eigen::MatrixXd dw = Eigen::MatrixXd::Zero(kOut, kIn);
    for (int o = 0; o < kOut; ++o)
      for (int i = 0; i < kIn; ++i)
        for (int r = 0; r < kRank; ++r) dw(o, i) += 2.0 * b.at(o * kRank + r) * a.at(r * kIn + i);
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(dw, Eigen::ComputeThinV);
    absl::StatusOr<Tensor> p =
        file->ReadFloat("layers." + std::to_string(m) + ".q_proj.prototypes");
    ASSERT_TRUE(p.ok()) << p.status();
    double dot = 0;
    for (int i = 0; i < kIn; ++i) dot += p->at(i) * svd.matrixV()(i, 0);
    EXPECT_NEAR(std::fabs(dot), 1.0, 1e-5);
    absl::StatusOr<Tensor> sigma =
        file->ReadFloat("layers." + std::to_string(m) + ".q_proj.singular_values");
    ASSERT_TRUE(sigma.ok());
    EXPECT_NEAR(sigma->at(0), svd.singularValues()(0), 1e-4 * svd.singularValues()(0));
  }

  WriteExpert("beta", 1, 3);  // beta's tensors change
  CommandResult second = Libra("arrow " + dir_);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_TRUE(absl::StrContains(second.output, "alpha: up to date")) << second.output;
  EXPECT_TRUE(absl::StrContains(second.output, "beta: computed")) << second.output;
  EXPECT_TRUE(absl::StrContains(second.output, "gamma: skipped")) << second.output;
}

TEST_F(ArrowClusterCommandTest, ArrowReportsABrokenExpertAndUsageErrors) {
  WriteExpert("alpha", 0, 1);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/broken.safetensors", "not safetensors").ok());
  CommandResult r = Libra("arrow " + dir_);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "libra: error: expert \"broken\"")) << r.output;
  r = Libra("arrow");
  EXPECT_EQ(r.code, 2) << r.output;
  r = Libra("arrow " + dir_ + " --top-k=-1");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST_F(ArrowClusterCommandTest, ClusterRecoversPlantedClustersAndStoresThem) {
  // Interleaved names so the clusters are not contiguous.
  const char* names[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"};
  for (int e = 0; e < 9; ++e) WriteExpert(names[e], e % 3, 50 + e);
  CommandResult r = Libra("cluster " + dir_ + " --k 3 --seed 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  nlohmann::json doc = nlohmann::json::parse(r.output);
  EXPECT_EQ(doc["clusters"],
            nlohmann::json({{"t0", "t3", "t6"}, {"t1", "t4", "t7"}, {"t2", "t5", "t8"}}));
  EXPECT_EQ(doc["similarity"].size(), 9u);
  EXPECT_NEAR(doc["similarity"][4][4].get<double>(), 1.0, 1e-5);
  absl::StatusOr<std::string> stored = ReadFile(dir_ + "/aux/clusters/mbc-k3.json");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(nlohmann::json::parse(*stored), doc);

  CommandResult text = Libra("cluster " + dir_ + " --k 3 --seed 1");
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_TRUE(absl::StrContains(text.output, "cluster 0 (3): t0, t3, t6")) << text.output;

  r = Libra("cluster " + dir_ + " --k 10");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "--k 10 exceeds the 9 LoRA experts")) << r.output;
  r = Libra("cluster " + dir_);
  EXPECT_EQ(r.code, 2) << r.output;
  r = Libra("cluster " + dir_ + " --k 2 --sparsity-quantile 1");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST_F(ArrowClusterCommandTest, LibraryModeUsesTheManifest) {
  // A library of 6 LoRA experts in 2 planted clusters, plus a delta expert.
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(dir_, "lib", "tiny");
  ASSERT_TRUE(library.ok()) << library.status();
  for (int e = 0; e < 6; ++e) {
    const std::string name = "e" + std::to_string(e);
    WriteExpert(name, e % 2, 70 + e);  // loose file, then added to the library
    ExpertRecord record;
    record.name = "x" + std::to_string(e);
    record.type = AdapterType::kLora;
    record.lora.alpha = 4;
    absl::StatusOr<ExpertRecord> added = library->AddFile(record, dir_ + "/" + name + ".safetensors");
    ASSERT_TRUE(added.ok()) << added.status();
    std::filesystem::remove(dir_ + "/" + name + ".safetensors");
  }
  ExpertWeights delta;
  delta.type = AdapterType::kDelta;
  delta.delta["layers.0.q_proj"] = Tensor::Zeros({kOut, kIn});
  ExpertRecord dense;
  dense.name = "dense";
  dense.type = AdapterType::kDelta;
  ASSERT_TRUE(library->AddWeights(dense, delta).ok());

  CommandResult arrow = Libra("arrow " + dir_ + " --json");
  ASSERT_EQ(arrow.code, 0) << arrow.output;
  nlohmann::json report = nlohmann::json::parse(arrow.output);
  EXPECT_EQ(report["computed"].size(), 6u);
  EXPECT_EQ(report["skipped"], nlohmann::json({"dense"}));
  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->Show("x0")->auxiliary_files.count("arrow"), 1u);
  EXPECT_TRUE(reopened->Verify(false).ok());

  CommandResult clusters = Libra("cluster " + dir_ + " --k 2 --json");
  ASSERT_EQ(clusters.code, 0) << clusters.output;
  nlohmann::json doc = nlohmann::json::parse(clusters.output);
  EXPECT_EQ(doc["clusters"], nlohmann::json({{"x0", "x2", "x4"}, {"x1", "x3", "x5"}}));
  EXPECT_EQ(doc["skipped"], nlohmann::json({"dense"}));
}

}  // namespace
}  // namespace libra
