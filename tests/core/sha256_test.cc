#include "src/core/sha256.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace libra {
namespace {

// FIPS 180-2, appendix B, and the empty message.
TEST(Sha256Test, FipsVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding boundaries (55, 56, 63, 64 bytes) fed in uneven chunks must equal
// the one-shot hash.
TEST(Sha256Test, ChunkedEqualsOneShot) {
  std::mt19937 rng(7);
  for (size_t size : {0, 1, 55, 56, 63, 64, 65, 119, 120, 1000}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Sha256 hash;
    size_t at = 0;
    for (size_t step = 1; at < size; step = step * 3 % 17 + 1) {
      const size_t take = std::min(step, size - at);
      hash.Update(absl::string_view(bytes).substr(at, take));
      at += take;
    }
    EXPECT_EQ(hash.HexDigest(), Sha256Hex(bytes)) << size;
  }
}

// Against coreutils' sha256sum on a file of random bytes.
TEST(Sha256Test, FileMatchesSha256sum) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/random.bin";
  std::mt19937 rng(11);
  std::string bytes(3 * (1 << 20) + 17, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << bytes;
  std::FILE* pipe = popen(("sha256sum " + path).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char line[65] = {};
  ASSERT_EQ(std::fread(line, 1, 64, pipe), 64u);
  pclose(pipe);
  absl::StatusOr<std::string> hex = Sha256File(path);
  ASSERT_TRUE(hex.ok()) << hex.status();
  EXPECT_EQ(*hex, std::string(line));
}

TEST(Sha256Test, MissingFileIsNotFound) {
  absl::StatusOr<std::string> hex = Sha256File("/nonexistent/file");
  EXPECT_EQ(hex.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(hex.status().message().find("/nonexistent/file"), std::string::npos);
}

}  // namespace
}  // namespace libra
