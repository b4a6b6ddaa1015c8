#include "src/core/arrow/prototype_cache.h"

#include <random>

#include "gtest/gtest.h"
#include "src/core/arrow/expert_prototypes.h"
#include "src/core/arrow/prototype.h"
#include "src/core/io/safetensors.h"

namespace libra::arrow {
namespace {

std::string Temp(const std::string& name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

// A PEFT-style expert file with alpha 16, rank 4; returns its factors.
void WriteExpert(const std::string& path, uint32_t seed, Tensor* a, Tensor* b) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  *a = Tensor::Zeros({4, 12});
  *b = Tensor::Zeros({8, 4});
  for (float& v : a->values()) v = normal(rng);
  for (float& v : b->values()) v = normal(rng);
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("base_model.model.h.0.q.lora_A.weight", *a).ok());
  ASSERT_TRUE(w.Add("base_model.model.h.0.q.lora_B.weight", *b).ok());
  w.SetMetadata("lora_alpha", "16");
  ASSERT_TRUE(w.WriteAtomically(path).ok());
}

TEST(PrototypeCacheTest, ComputesOnceAndRecomputesWhenTheExpertChanges) {
  const std::string expert = Temp("e.safetensors"), aux = Temp("e.arrow.safetensors");
  Tensor a, b;
  WriteExpert(expert, 1, &a, &b);
  absl::StatusOr<std::string> hash = FileFingerprint(expert);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->size(), 64u);  // sha256 hex

  absl::StatusOr<RefreshResult> first = RefreshPrototypes(expert, aux, *hash, 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->outcome, RefreshOutcome::kComputed);
  EXPECT_EQ(first->modules, 1);
  absl::StatusOr<RefreshResult> second = RefreshPrototypes(expert, aux, *hash, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outcome, RefreshOutcome::kUpToDate);

  // The stored prototypes are those of dW = (16 / 4) B A.
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(aux);
  ASSERT_TRUE(file.ok());
  absl::StatusOr<ExpertPrototypes> stored = ReadExpertPrototypes(*file);
  ASSERT_TRUE(stored.ok()) << stored.status();
  absl::StatusOr<SingularTriplets> want = TopSingularTriplets(a, b, 4.0f, 2);
  ASSERT_TRUE(want.ok());
  const ModulePrototypes* q = stored->Find("h.0.q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->vectors.values(), want->right.values());
  EXPECT_EQ(q->values, want->values);
  EXPECT_EQ(stored->source_hash, *hash);

  // New tensors: a new fingerprint, so the prototypes are recomputed.
  WriteExpert(expert, 2, &a, &b);
  absl::StatusOr<std::string> new_hash = FileFingerprint(expert);
  ASSERT_TRUE(new_hash.ok());
  EXPECT_NE(*new_hash, *hash);
  EXPECT_FALSE(PrototypesUpToDate(aux, *new_hash, 2));
  absl::StatusOr<RefreshResult> third = RefreshPrototypes(expert, aux, *new_hash, 2);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->outcome, RefreshOutcome::kComputed);
  // A different top_k is stale too.
  EXPECT_FALSE(PrototypesUpToDate(aux, *new_hash, 1));

  // A manifest-provided scale overrides the metadata: values scale with it.
  const std::string aux2 = Temp("e.arrow2.safetensors");
  absl::StatusOr<RefreshResult> scaled = RefreshPrototypes(
      expert, aux2, *new_hash, 1, [](const std::string&, int64_t rank) { return 2.0 / rank; });
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  absl::StatusOr<ExpertPrototypes> back = ReadExpertPrototypes(*SafetensorsFile::Open(aux2));
  ASSERT_TRUE(back.ok());
  absl::StatusOr<SingularTriplets> half = TopSingularTriplets(a, b, 0.5f, 1);
  ASSERT_TRUE(half.ok());
  EXPECT_FLOAT_EQ(back->modules[0].values[0], half->values[0]);
}

TEST(PrototypeCacheTest, ABadExpertLeavesNoPrototypeFile) {
  const std::string expert = Temp("bad.safetensors"), aux = Temp("bad.arrow.safetensors");
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("m.lora_A.weight", Tensor::Zeros({2, 5})).ok());
  ASSERT_TRUE(w.WriteAtomically(expert).ok());
  absl::Status s = RefreshPrototypes(expert, aux, "h", 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("has lora_A but no lora_B"), std::string::npos) << s;
  EXPECT_FALSE(SafetensorsFile::Open(aux).ok());
}

}  // namespace
}  // namespace libra::arrow
