#include "src/core/arrow/library_prototypes.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "src/core/arrow/prototype.h"
#include "src/core/library/expert_library.h"

namespace libra::arrow {
namespace {

Tensor Random(Shape shape, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Tensor t = Tensor::Zeros(std::move(shape));
  for (float& v : t.values()) v = normal(rng);
  return t;
}

class LibraryPrototypesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::string(std::getenv("TEST_TMPDIR")) + "/libXXXXXX";
    dir_ = mkdtemp(pattern.data());
    absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(dir_, "test", "tiny");
    ASSERT_TRUE(library.ok()) << library.status();
    library_.emplace(*std::move(library));
    std::mt19937 rng(3);
    // "lora": rank 4, alpha 16 (scale 4), module m.v with alpha 2 (scale 0.5).
    weights_.type = AdapterType::kLora;
    weights_.lora["m.q"] = LoraModule{Random({4, 12}, rng), Random({10, 4}, rng)};
    weights_.lora["m.v"] = LoraModule{Random({4, 12}, rng), Random({6, 4}, rng)};
    ExpertRecord record;
    record.name = "lora";
    record.type = AdapterType::kLora;
    record.lora.alpha = 16;
    record.lora.module_alpha["m.v"] = 2;
    ASSERT_TRUE(library_->AddWeights(record, weights_).ok());
    ExpertWeights delta;
    delta.type = AdapterType::kDelta;
    delta.delta["m.q"] = Tensor::Zeros({10, 12});
    ExpertRecord dense;
    dense.name = "dense";
    dense.type = AdapterType::kDelta;
    ASSERT_TRUE(library_->AddWeights(dense, delta).ok());
  }

  std::string dir_;
  std::optional<ExpertLibrary> library_;
  ExpertWeights weights_;
};

TEST_F(LibraryPrototypesTest, StoresPrototypesWithTheManifestScalesAndSkipsUpToDateOnes) {
  absl::StatusOr<std::vector<LibraryRefresh>> first = RefreshLibraryPrototypes(*library_, 2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].expert, "lora");
  EXPECT_EQ((*first)[0].outcome, RefreshOutcome::kComputed);
  EXPECT_EQ((*first)[0].modules, 2);
  EXPECT_EQ((*first)[1].outcome, RefreshOutcome::kNotLora);
  // Referenced from the manifest, as a file a fresh Open sees.
  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->Show("lora")->auxiliary_files.at("arrow").file_name,
            "aux/arrow/lora.safetensors");

  absl::StatusOr<ExpertPrototypes> stored = LoadLibraryPrototypes(*reopened, "lora");
  ASSERT_TRUE(stored.ok()) << stored.status();
  const float scales[] = {4.0f, 0.5f};  // alpha / r: 16 / 4 and 2 / 4
  const char* modules[] = {"m.q", "m.v"};
  for (int m = 0; m < 2; ++m) {
    const LoraModule& lora = weights_.lora.at(modules[m]);
    absl::StatusOr<SingularTriplets> want = TopSingularTriplets(lora.a, lora.b, scales[m], 2);
    ASSERT_TRUE(want.ok());
    const ModulePrototypes* got = stored->Find(modules[m]);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->vectors.values(), want->right.values());
    EXPECT_EQ(got->values, want->values);
  }

  absl::StatusOr<std::vector<LibraryRefresh>> second = RefreshLibraryPrototypes(*reopened, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].outcome, RefreshOutcome::kUpToDate);
  absl::StatusOr<std::vector<LibraryRefresh>> other_k = RefreshLibraryPrototypes(*reopened, 1);
  ASSERT_TRUE(other_k.ok());
  EXPECT_EQ((*other_k)[0].outcome, RefreshOutcome::kComputed);
}

TEST_F(LibraryPrototypesTest, StalePrototypesAreRefusedAndRecomputed) {
  ASSERT_TRUE(RefreshLibraryPrototypes(*library_, 1).ok());
  absl::StatusOr<ExpertPrototypes> stored = LoadLibraryPrototypes(*library_, "lora");
  ASSERT_TRUE(stored.ok());
  stored->source_hash = "0000";  // as if computed for an older file
  ASSERT_TRUE(library_->SetAuxiliaryFile("lora", "arrow", *SerializeExpertPrototypes(*stored)).ok());
  absl::Status s = LoadLibraryPrototypes(*library_, "lora").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("Arrow prototypes are stale"), std::string::npos) << s;
  absl::StatusOr<std::vector<LibraryRefresh>> again = RefreshLibraryPrototypes(*library_, 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome, RefreshOutcome::kComputed);
  EXPECT_TRUE(LoadLibraryPrototypes(*library_, "lora").ok());
}

TEST_F(LibraryPrototypesTest, MissingPrototypesAreAFailedPrecondition) {
  absl::Status s = LoadLibraryPrototypes(*library_, "lora").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("has no Arrow prototypes; run libra arrow"), std::string::npos) << s;
}

}  // namespace
}  // namespace libra::arrow
