#include "src/core/io/safetensors.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "src/core/io/atomic_file.h"

namespace libra {
namespace {

std::string TempPath(const std::string& name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

// Builds a file image by hand, independent of SafetensorsWriter.
std::string Image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t size = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((size >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string FloatBytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), 4);
  return out;
}

absl::Status ParseStatus(const std::string& image) {
  return SafetensorsFile::FromBytes(image, "bad.safetensors").status();
}

void ExpectInvalid(const std::string& image, const std::string& substring) {
  absl::Status status = ParseStatus(image);
  ASSERT_FALSE(status.ok()) << "accepted: " << substring;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(substring), std::string::npos) << status;
  EXPECT_NE(status.message().find("bad.safetensors"), std::string::npos) << status;
}

TEST(SafetensorsTest, ReadsAHandWrittenFile) {
  const std::string header =
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}})";
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::FromBytes(Image(header, FloatBytes({1, 2, 3, 4})), "hand");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].name, "a");  // ordered by offset
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->ReadFloat("b")->values(), (std::vector<float>{3, 4}));
  EXPECT_EQ(file->ReadFloat("zzz").status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, RoundTripsEveryFloatDtypeThroughAFile) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> values(3 * 5);
  for (float& v : values) v = normal(rng);
  const Tensor tensor({3, 5}, values);
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("f32", tensor, DType::kF32).ok());
  ASSERT_TRUE(writer.Add("f16", tensor, DType::kF16).ok());
  ASSERT_TRUE(writer.Add("bf16", tensor, DType::kBF16).ok());
  ASSERT_TRUE(writer.Add("empty", Tensor::Zeros({0, 4})).ok());
  ASSERT_TRUE(writer.Add("scalar", Tensor({}, {2.5f})).ok());
  ASSERT_TRUE(writer.AddInt64("idx", Int64Tensor{{3}, {0, 7, -2}}).ok());
  writer.SetMetadata("source", "test");
  const std::string path = TempPath("roundtrip.safetensors");
  ASSERT_TRUE(writer.WriteAtomically(path).ok());
  EXPECT_EQ(*ReadFile(path), writer.Serialize());

  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->ReadFloat("f32")->values(), values);
  const std::vector<float> f16 = file->ReadFloat("f16")->values();
  const std::vector<float> bf16 = file->ReadFloat("bf16")->values();
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f16[i], HalfToFloat(FloatToHalf(values[i])));
    EXPECT_EQ(bf16[i], BFloat16ToFloat(FloatToBFloat16(values[i])));
    EXPECT_NEAR(f16[i], values[i], 2e-3 * std::fabs(values[i]) + 1e-6);
  }
  EXPECT_EQ(file->Find("f16")->dtype, DType::kF16);
  EXPECT_EQ(file->ReadFloat("empty")->shape(), (Shape{0, 4}));
  EXPECT_EQ(file->ReadFloat("scalar")->shape(), Shape{});
  EXPECT_EQ(file->ReadFloat("scalar")->at(0), 2.5f);
  EXPECT_EQ(file->ReadInt64("idx")->values, (std::vector<int64_t>{0, 7, -2}));
  EXPECT_FALSE(file->ReadFloat("idx").ok());
  EXPECT_FALSE(file->ReadInt64("f32").ok());
  EXPECT_EQ(file->metadata().at("source"), "test");
  // The header is padded so the data starts 8-byte aligned.
  const std::string image = *ReadFile(path);
  uint64_t header_size;
  std::memcpy(&header_size, image.data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
}

TEST(SafetensorsTest, RejectsEveryMalformedHeader) {
  const std::string four = FloatBytes({1, 2, 3, 4});
  ExpectInvalid("abc", "too short");
  ExpectInvalid(Image(R"({})", "").substr(0, 6), "too short");
  std::string beyond = Image(R"({})", "");
  beyond[0] = 100;  // header length beyond the file
  ExpectInvalid(beyond, "past the end");
  std::string huge = Image(R"({})", "");
  const uint64_t too_big = kMaxHeaderBytes + 1;
  std::memcpy(huge.data(), &too_big, 8);
  ExpectInvalid(huge, "exceeds");
  ExpectInvalid(Image(R"({"a":)", four), "not valid UTF-8 JSON");
  ExpectInvalid(Image("{\"a\xff\":1}", four), "not valid UTF-8 JSON");
  ExpectInvalid(Image(R"([1,2])", four), "not a JSON object");
  ExpectInvalid(Image(R"({"a":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})", four), "unknown dtype");
  ExpectInvalid(Image(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,16]}})", four), "needs 8 bytes");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", four), "negative");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}})", four + four), "needs 16");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", four), "gap");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", four + "xx"),
                "trailing bytes");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", four.substr(0, 12)),
                "beyond the data");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      four.substr(0, 12)),
                "overlap");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", ""), "begin after end");
  ExpectInvalid(Image(R"({"__metadata__":{"k":1}})", ""), "not a string");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"x":1}})", four),
                "unknown field");
  ExpectInvalid(Image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                      four),
                "appears twice");
}

TEST(SafetensorsTest, TruncatedFileOnDiskIsRejected) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("w", Tensor::Zeros({16, 16})).ok());
  std::string image = writer.Serialize();
  const std::string path = TempPath("truncated.safetensors");
  ASSERT_TRUE(WriteFileAtomically(path, image.substr(0, image.size() - 5)).ok());
  absl::Status status = SafetensorsFile::Open(path).status();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("truncated.safetensors"), std::string::npos);
  EXPECT_NE(status.message().find("\"w\""), std::string::npos);
  EXPECT_EQ(SafetensorsFile::Open(TempPath("missing")).status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, CheckFiniteNamesTheTensor) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("fine", Tensor({2}, {1, 2})).ok());
  ASSERT_TRUE(writer.Add("bad", Tensor({3}, {0, std::numeric_limits<float>::infinity(), 1}), DType::kBF16).ok());
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::FromBytes(writer.Serialize(), "nan.safetensors");
  ASSERT_TRUE(file.ok());  // finiteness is not checked on open
  absl::Status status = file->CheckFinite();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("\"bad\""), std::string::npos);
  EXPECT_NE(status.message().find("element 1"), std::string::npos);
}

TEST(SafetensorsTest, WriterRejectsBadNamesAndDtypes) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("x", Tensor::Zeros({1})).ok());
  EXPECT_FALSE(writer.Add("x", Tensor::Zeros({1})).ok());
  EXPECT_FALSE(writer.Add("", Tensor::Zeros({1})).ok());
  EXPECT_FALSE(writer.Add("__metadata__", Tensor::Zeros({1})).ok());
  EXPECT_FALSE(writer.Add("y", Tensor::Zeros({1}), DType::kI64).ok());
  EXPECT_FALSE(writer.AddInt64("z", Int64Tensor{{3}, {1, 2}}).ok());
}

TEST(SafetensorsTest, StreamWriterMatchesWholeFileWriter) {
  const Tensor a({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b({4}, {-1, 0.5f, 7, 8});
  const Int64Tensor idx{{2}, {3, 9}};
  SafetensorsWriter whole;
  ASSERT_TRUE(whole.Add("a", a).ok());
  ASSERT_TRUE(whole.Add("b", b, DType::kBF16).ok());
  ASSERT_TRUE(whole.AddInt64("idx", idx).ok());
  whole.SetMetadata("k", "v");

  const std::string path = TempPath("stream.safetensors");
  absl::StatusOr<SafetensorsStreamWriter> stream = SafetensorsStreamWriter::Create(
      path, {{"a", DType::kF32, {2, 3}}, {"b", DType::kBF16, {4}}, {"idx", DType::kI64, {2}}}, {{"k", "v"}});
  ASSERT_TRUE(stream.ok());
  EXPECT_FALSE(stream->Append(b).ok());  // wrong shape for "a"
  ASSERT_TRUE(stream->Append(a).ok());
  ASSERT_TRUE(stream->Append(b).ok());
  ASSERT_TRUE(stream->AppendInt64(idx).ok());
  EXPECT_FALSE(stream->Append(a).ok());  // more than declared
  ASSERT_TRUE(stream->Commit().ok());
  EXPECT_EQ(*ReadFile(path), whole.Serialize());
}

TEST(SafetensorsTest, UnfinishedStreamLeavesExistingFileUntouched) {
  const std::string dir = TempPath("unfinished");
  mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/out.safetensors";
  ASSERT_TRUE(WriteFileAtomically(path, "previous").ok());
  {
    absl::StatusOr<SafetensorsStreamWriter> stream =
        SafetensorsStreamWriter::Create(path, {{"a", DType::kF32, {2}}, {"b", DType::kF32, {2}}});
    ASSERT_TRUE(stream.ok());
    ASSERT_TRUE(stream->Append(Tensor({2}, {1, 2})).ok());
    EXPECT_EQ(stream->Commit().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(*ReadFile(path), "previous");
  int entries = 0;
  DIR* handle = opendir(dir.c_str());
  while (dirent* entry = readdir(handle)) entries += entry->d_name[0] != '.';
  closedir(handle);
  EXPECT_EQ(entries, 1);
}

// Random corruption of valid files never crashes the reader, and whatever it
// accepts is internally consistent (every tensor readable).
TEST(SafetensorsTest, FuzzedHeadersNeverCrash) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("layer.0.lora_A.weight", Tensor::Zeros({4, 8})).ok());
  ASSERT_TRUE(writer.Add("layer.0.lora_B.weight", Tensor::Zeros({8, 4}), DType::kF16).ok());
  ASSERT_TRUE(writer.AddInt64("idx", Int64Tensor{{3}, {1, 2, 3}}).ok());
  writer.SetMetadata("format", "pt");
  const std::string valid = writer.Serialize();
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::string image = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t position = rng() % std::min<size_t>(image.size(), 8 + 200);
      switch (rng() % 3) {
        case 0: image[position] = static_cast<char>(rng()); break;
        case 1: image[position] = "0123456789[]{},:\"-"[rng() % 18]; break;
        case 2: image.erase(position, 1 + rng() % 3); break;
      }
    }
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::FromBytes(image, "fuzz");
    if (!file.ok()) continue;
    ++accepted;
    for (const TensorInfo& info : file->tensors()) {
      EXPECT_LE(info.end, image.size());
      (void)file->RawBytes(info);
    }
  }
  EXPECT_LT(accepted, 4000);  // the corruptions are mostly caught
}

}  // namespace
}  // namespace libra
