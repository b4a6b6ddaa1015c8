#include "src/core/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace libra {
namespace {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  while (dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(handle);
  return names;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  mkdir(dir.c_str(), 0755);
  return dir;
}

// A hostile size is refused from the file's length, before any allocation:
// a sparse file declaring a terabyte is refused as fast as a small one.
TEST(ReadFileTest, FilesOverTheLimitAreRefusedBeforeReading) {
  const std::string dir = FreshDir("limits");
  const std::string small = dir + "/config.json";
  ASSERT_TRUE(WriteFileAtomically(small, std::string(2048, ' ')).ok());
  EXPECT_EQ(ReadFile(small, 2048)->size(), 2048u);
  absl::StatusOr<std::string> over = ReadFile(small, 2047);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("over the 2047-byte limit"), std::string::npos) << over.status();
  EXPECT_NE(over.status().message().find(small), std::string::npos) << over.status();

  const std::string huge = dir + "/huge.json";
  const int fd = open(huge.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, int64_t{1} << 40), 0);  // 1 TiB, sparse
  close(fd);
  absl::StatusOr<std::string> refused = ReadFile(huge, kMaxConfigFileBytes);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("1099511627776 bytes, over the 16777216-byte limit"),
            std::string::npos)
      << refused.status();
  unlink(huge.c_str());
}

TEST(AtomicFileTest, WriteReplacesContentsAndLeavesNoTemporary) {
  const std::string dir = FreshDir("replace");
  const std::string path = dir + "/file.bin";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second version").ok());
  EXPECT_EQ(*ReadFile(path), "second version");
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"file.bin"});
}

TEST(AtomicFileTest, AbandonedWriteKeepsTheOldFile) {
  const std::string dir = FreshDir("abandon");
  const std::string path = dir + "/file.bin";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  {
    absl::StatusOr<AtomicFile> file = AtomicFile::Create(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Write("partial new contents").ok());
    // Destroyed without Commit, as when an error interrupts a writer.
  }
  EXPECT_EQ(*ReadFile(path), "old");
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"file.bin"});
}

TEST(AtomicFileTest, CommitTwiceFails) {
  const std::string dir = FreshDir("twice");
  absl::StatusOr<AtomicFile> file = AtomicFile::Create(dir + "/x");
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->Commit().ok());
  EXPECT_EQ(file->Commit().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AtomicFileTest, MissingFolderIsAnErrorNamingThePath) {
  absl::Status status = WriteFileAtomically("/nonexistent-libra-dir/x", "data");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("/nonexistent-libra-dir"), std::string::npos);
  EXPECT_EQ(ReadFile("/nonexistent-libra-dir/x").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace libra
