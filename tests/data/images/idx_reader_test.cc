#include "src/data/images/idx_reader.h"

#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"

namespace libra::data {
namespace {

std::string TempPath(const std::string& name) {
  return std::string(testing::TempDir()) + "/" + name;
}

// Hand-written IDX bytes: magic, big-endian sizes, then the data.
std::string IdxBytes(std::vector<uint32_t> dims, const std::vector<uint8_t>& data,
                     uint8_t type = 0x08) {
  std::string bytes = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    bytes += {static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8),
              static_cast<char>(d)};
  }
  bytes.append(data.begin(), data.end());
  return bytes;
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(IdxReaderTest, ReadsHandWrittenImagesAndLabels) {
  // Two 2x3 images: 0..5 and 250..255; labels 7 and 3.
  WriteRaw(TempPath("img.idx"), IdxBytes({2, 2, 3}, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}));
  WriteRaw(TempPath("lab.idx"), IdxBytes({2}, {7, 3}));
  auto set = ReadIdxImageSet(TempPath("img.idx"), TempPath("lab.idx"));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->rows, 2);
  EXPECT_EQ(set->cols, 3);
  EXPECT_EQ(set->labels, (std::vector<int>{7, 3}));
  ASSERT_EQ(set->pixels.size(), 12u);
  EXPECT_FLOAT_EQ(set->Image(0)[5], 5.0f / 255.0f);
  EXPECT_FLOAT_EQ(set->Image(1)[5], 1.0f);
}

TEST(IdxReaderTest, GzipRoundTripThroughWriter) {
  IdxArray array{{3, 2}, {9, 8, 7, 6, 5, 4}};
  const std::string path = TempPath("round.idx.gz");
  ASSERT_TRUE(WriteIdxFile(path, array).ok());
  std::ifstream in(path, std::ios::binary);
  EXPECT_EQ(in.get(), 0x1f);  // really gzip'd
  auto read = ReadIdxFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->dims, array.dims);
  EXPECT_EQ(read->values, array.values);
}

// A gzip bomb (a small file that inflates far past any IDX data set) is
// refused while it inflates, naming the limit.
TEST(IdxReaderTest, GzipBombIsRefusedWhileInflating) {
  IdxArray zeros{{4 << 20}, std::vector<uint8_t>(4 << 20, 0)};
  const std::string path = TempPath("bomb.idx.gz");
  ASSERT_TRUE(WriteIdxFile(path, zeros).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_LT(compressed.size(), 64u << 10);
  auto refused = DecodeMaybeGzip(compressed, path, /*max_bytes=*/1 << 20);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("inflates past the 1048576-byte limit"), std::string::npos)
      << refused.status();
  EXPECT_EQ(DecodeMaybeGzip(compressed, path, 8 << 20)->size(), (4u << 20) + 8);
}

void ExpectError(const std::string& bytes, const std::string& substring) {
  const std::string path = TempPath("bad.idx");
  WriteRaw(path, bytes);
  auto read = ReadIdxFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find(path), std::string::npos) << read.status();
  EXPECT_NE(read.status().message().find(substring), std::string::npos) << read.status();
}

TEST(IdxReaderTest, RejectsBadMagicDimsAndSizes) {
  ExpectError(IdxBytes({2}, {1, 2}, /*type=*/0x0D), "bad IDX magic");
  ExpectError(std::string("\x01\x00\x08\x01", 4) + std::string("\0\0\0\1\5", 5), "bad IDX magic");
  ExpectError(IdxBytes({}, {}), "dimension count 0");
  ExpectError(std::string("\0\0\x08\x05", 4), "dimension count 5");
  ExpectError(std::string("\0\0\x08\x03\0\0", 6), "truncated IDX header");
  ExpectError(IdxBytes({2, 2}, {1, 2, 3}), "(truncated)");
  ExpectError(IdxBytes({2}, {1, 2, 3}), "(trailing bytes)");
  ExpectError("ab", "no 4-byte magic");
}

TEST(IdxReaderTest, RejectsTruncatedGzip) {
  const std::string good = TempPath("good.idx.gz");
  ASSERT_TRUE(WriteIdxFile(good, IdxArray{{64}, std::vector<uint8_t>(64, 3)}).ok());
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = TempPath("cut.idx.gz");
  WriteRaw(cut, bytes.substr(0, bytes.size() - 6));
  auto read = ReadIdxFile(cut);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find(cut), std::string::npos);
  EXPECT_NE(read.status().message().find("gzip"), std::string::npos) << read.status();
}

TEST(IdxReaderTest, RejectsLabelCountMismatchAndWrongRanks) {
  WriteRaw(TempPath("img3.idx"), IdxBytes({3, 1, 1}, {1, 2, 3}));
  WriteRaw(TempPath("lab2.idx"), IdxBytes({2}, {0, 1}));
  auto mismatch = ReadIdxImageSet(TempPath("img3.idx"), TempPath("lab2.idx"));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("2 labels for 3 images"), std::string::npos)
      << mismatch.status();
  auto swapped = ReadIdxImageSet(TempPath("lab2.idx"), TempPath("img3.idx"));
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.status().message().find("needs 3 dimensions"), std::string::npos);
}

TEST(IdxReaderTest, MissingFileIsNamed) {
  auto read = ReadIdxFile(TempPath("nowhere.idx"));
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("nowhere.idx"), std::string::npos);
}

}  // namespace
}  // namespace libra::data
