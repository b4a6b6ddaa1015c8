#include "papers/lab/suite_cache.h"

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "src/core/io/atomic_file.h"

namespace libra::papers {
namespace {

namespace fs = std::filesystem;

data::synthetic::SuiteOptions Small(uint64_t seed) {
  data::synthetic::SuiteOptions o;
  o.seed = seed;
  o.train_per_task = 8;
  o.validation_per_task = 2;
  o.test_per_task = 4;
  o.pretrain.examples = 50;
  return o;
}

TEST(CachedSuite, WritesOnceAndReusesThenRebuildsForANewSeed) {
  std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/suite_cache";
  fs::remove_all(root);
  ArtifactCache cache(root);
  bool hit = true;
  auto dir = CachedSuite(cache, Small(1), &hit);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_FALSE(hit);
  EXPECT_TRUE(fs::exists(*dir + "/suite.json"));
  EXPECT_TRUE(fs::exists(*dir + "/pretrain.jsonl"));
  EXPECT_TRUE(fs::exists(*dir + "/tasks/letters_reverse.jsonl"));
  auto manifest = ReadFile(*dir + "/suite.json");
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(*manifest, data::synthetic::SuiteManifest(Small(1)));

  auto again = CachedSuite(cache, Small(1), &hit);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(hit);
  EXPECT_EQ(*again, *dir);

  auto other = CachedSuite(cache, Small(2), &hit);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(hit);
  EXPECT_NE(*other, *dir);
}

}  // namespace
}  // namespace libra::papers
