#include "papers/common/artifact_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/core/io/atomic_file.h"

namespace libra::papers {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

std::string Root(const std::string& name) {
  std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  fs::remove_all(root);
  return root;
}

ArtifactCache::Builder Writes(const std::string& content, int* calls) {
  return [content, calls](const std::string& dir) {
    ++*calls;
    return WriteFileAtomically(dir + "/model.txt", content);
  };
}

TEST(ArtifactCache, SecondRequestReusesTheEntry) {
  ArtifactCache cache(Root("reuse"));
  ArtifactKey key{"base_model", json{{"layers", 2}, {"d", 128}}, "v1"};
  int calls = 0;
  bool hit = true;
  auto dir = cache.GetOrBuild(key, Writes("weights", &calls), &hit);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_FALSE(hit);
  EXPECT_EQ(*ReadFile(*dir + "/model.txt"), "weights");
  auto again = cache.GetOrBuild(key, Writes("other", &calls), &hit);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(hit);
  EXPECT_EQ(*again, *dir);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*ReadFile(*again + "/model.txt"), "weights");
  // Key order in the config does not matter (canonical JSON).
  ArtifactKey reordered{"base_model", json{{"d", 128}, {"layers", 2}}, "v1"};
  EXPECT_EQ(reordered.Hash(), key.Hash());
  // No temp folders are left behind.
  for (const auto& e : fs::directory_iterator(cache.root() + "/base_model")) {
    EXPECT_EQ(e.path().filename().string().rfind(".tmp", 0), std::string::npos) << e.path();
  }
}

TEST(ArtifactCache, ChangedConfigOrVersionRebuilds) {
  ArtifactCache cache(Root("changed"));
  int calls = 0;
  ArtifactKey a{"base_model", json{{"layers", 2}}, "v1"};
  ArtifactKey b{"base_model", json{{"layers", 3}}, "v1"};
  ArtifactKey c{"base_model", json{{"layers", 2}}, "v2"};
  ArtifactKey d{"library", json{{"layers", 2}}, "v1"};
  std::set<std::string> dirs;
  for (const ArtifactKey& k : {a, b, c, d}) dirs.insert(*cache.GetOrBuild(k, Writes("w", &calls)));
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(dirs.size(), 4u);
}

TEST(ArtifactCache, FailedBuildLeavesNothing) {
  ArtifactCache cache(Root("failed"));
  ArtifactKey key{"base_model", json{{"x", 1}}, "v1"};
  auto dir = cache.GetOrBuild(key, [](const std::string& d) {
    (void)WriteFileAtomically(d + "/half.bin", "partial");
    return absl::InternalError("out of memory");
  });
  EXPECT_THAT(dir.status().message(), HasSubstr("out of memory"));
  EXPECT_FALSE(cache.Contains(key));
  EXPECT_TRUE(fs::is_empty(cache.root() + "/base_model"));
}

TEST(ArtifactCache, ForeignFolderAtTheKeyIsReplaced) {
  ArtifactCache cache(Root("foreign"));
  ArtifactKey key{"base_model", json{{"x", 1}}, "v1"};
  fs::create_directories(cache.PathFor(key));
  ASSERT_TRUE(WriteFileAtomically(cache.PathFor(key) + "/key.json", "{\"other\":1}").ok());
  int calls = 0;
  bool hit = true;
  auto dir = cache.GetOrBuild(key, Writes("fresh", &calls), &hit);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_FALSE(hit);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*ReadFile(*dir + "/model.txt"), "fresh");
  EXPECT_EQ(*ReadFile(*dir + "/key.json"), key.Material());
}

TEST(ArtifactCache, RejectsAKindThatIsNotAFolderName) {
  ArtifactCache cache(Root("kind"));
  int calls = 0;
  auto dir = cache.GetOrBuild({"../escape", json{}, "v1"}, Writes("w", &calls));
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dir.status().message(), HasSubstr("artifact kind \"../escape\""));
  EXPECT_EQ(calls, 0);
}

TEST(ArtifactCache, DefaultRootFollowsLibraCache) {
  setenv("LIBRA_CACHE", "/some/cache", 1);
  EXPECT_EQ(ArtifactCache::DefaultRoot(), "/some/cache");
  unsetenv("LIBRA_CACHE");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(ArtifactCache::DefaultRoot(), "/home/u/.cache/libra/artifacts");
  // No $HOME (a Bazel action's environment): the password database's home,
  // so a build rule finds the same cache as `./run`.
  const passwd* pw = getpwuid(getuid());
  ASSERT_NE(pw, nullptr);
  unsetenv("HOME");
  EXPECT_EQ(ArtifactCache::DefaultRoot(), absl::StrCat(pw->pw_dir, "/.cache/libra/artifacts"));
}

TEST(CopyArtifactFiles, CopiesTheNamedFilesAndNamesAMissingOne) {
  const std::string dir = Root("copy_from");
  const std::string out = Root("copy_to") + "/nested/out";
  fs::create_directories(dir);
  ASSERT_TRUE(WriteFileAtomically(dir + "/a.json", "{\"a\": 1}").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/b.bin", std::string("\0\1\2", 3)).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/unlisted", "x").ok());
  ASSERT_TRUE(CopyArtifactFiles(dir, {"a.json", "b.bin"}, out).ok());
  EXPECT_EQ(*ReadFile(out + "/a.json"), "{\"a\": 1}");
  EXPECT_EQ(*ReadFile(out + "/b.bin"), std::string("\0\1\2", 3));
  EXPECT_FALSE(fs::exists(out + "/unlisted"));
  // A second copy overwrites (a rebuilt rule output).
  ASSERT_TRUE(WriteFileAtomically(dir + "/a.json", "{}").ok());
  ASSERT_TRUE(CopyArtifactFiles(dir, {"a.json"}, out).ok());
  EXPECT_EQ(*ReadFile(out + "/a.json"), "{}");
  absl::Status missing = CopyArtifactFiles(dir, {"gone.json"}, out);
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr(dir + "/gone.json"));
}

// Two folders with the given files (name -> content).
std::string FolderWith(const std::string& name, const std::map<std::string, std::string>& files) {
  const std::string dir = Root(name);
  for (const auto& [file, content] : files) {
    fs::create_directories(fs::path(dir + "/" + file).parent_path());
    EXPECT_TRUE(WriteFileAtomically(dir + "/" + file, content).ok());
  }
  return dir;
}

TEST(FolderFingerprint, FollowsContentNotPath) {
  const std::map<std::string, std::string> base = {{"config.json", "{}"},
                                                   {"model.safetensors", "abcd"}};
  auto a = FolderFingerprint(FolderWith("fp_a", base));
  auto b = FolderFingerprint(FolderWith("fp_b", base));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*a, *b);  // same files elsewhere: same fingerprint

  std::map<std::string, std::string> changed = base;
  changed["model.safetensors"] = "abce";  // one byte, same size
  EXPECT_NE(*FolderFingerprint(FolderWith("fp_byte", changed)), *a);
  std::map<std::string, std::string> renamed = {{"config.json", "{}"}, {"model2.safetensors", "abcd"}};
  EXPECT_NE(*FolderFingerprint(FolderWith("fp_name", renamed)), *a);
  std::map<std::string, std::string> nested = base;
  nested["sub/extra.json"] = "1";
  EXPECT_NE(*FolderFingerprint(FolderWith("fp_nested", nested)), *a);
}

TEST(FolderFingerprint, LargeFilesAreKeyedBySizeAndTime) {
  const std::string dir = FolderWith("fp_large", {{"w.bin", "0123456789"}});
  auto first = FolderFingerprint(dir, /*content_limit=*/4);
  auto read_in_full = FolderFingerprint(dir);
  ASSERT_TRUE(first.ok() && read_in_full.ok());
  // Same size, new bytes, time unchanged: a large file is not read.
  const auto time = fs::last_write_time(dir + "/w.bin");
  ASSERT_TRUE(WriteFileAtomically(dir + "/w.bin", "9876543210").ok());
  fs::last_write_time(dir + "/w.bin", time);
  EXPECT_EQ(*FolderFingerprint(dir, 4), *first);
  EXPECT_NE(*FolderFingerprint(dir), *read_in_full);  // under the default limit it is read
  fs::last_write_time(dir + "/w.bin", time + std::chrono::seconds(5));
  EXPECT_NE(*FolderFingerprint(dir, 4), *first);
}

TEST(FolderFingerprint, ReadsAtMostTheLimitInAll) {
  const std::string dir = FolderWith("fp_budget", {{"a.bin", "abc"}, {"b.bin", "def"}});
  auto first = FolderFingerprint(dir, /*content_limit=*/4);
  ASSERT_TRUE(first.ok());
  // a.bin (3 bytes) is read; b.bin would pass the 4-byte budget: keyed by time.
  const auto time = fs::last_write_time(dir + "/b.bin");
  ASSERT_TRUE(WriteFileAtomically(dir + "/b.bin", "xyz").ok());
  fs::last_write_time(dir + "/b.bin", time);
  EXPECT_EQ(*FolderFingerprint(dir, 4), *first);
  const auto a_time = fs::last_write_time(dir + "/a.bin");
  ASSERT_TRUE(WriteFileAtomically(dir + "/a.bin", "abd").ok());
  fs::last_write_time(dir + "/a.bin", a_time);
  EXPECT_NE(*FolderFingerprint(dir, 4), *first);
}

TEST(FolderFingerprint, MissingFolderIsAnError) {
  auto missing = FolderFingerprint(Root("fp_missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("fp_missing"));
}

}  // namespace
}  // namespace libra::papers
