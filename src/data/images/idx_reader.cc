#include "src/data/images/idx_reader.h"

#include <zlib.h>

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::data {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;
constexpr int kMaxDims = 4;

bool IsGzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f &&
         static_cast<uint8_t>(bytes[1]) == 0x8b;
}

// Inflates a whole gzip stream (zlib with automatic gzip header detection).
absl::StatusOr<std::string> Gunzip(const std::string& compressed, const std::string& name,
                                   uint64_t max_bytes) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) {
    return absl::InternalError(absl::StrCat(name, ": cannot initialise zlib"));
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (out.size() > max_bytes) {  // a gzip bomb: refused while inflating
      inflateEnd(&stream);
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": gzip data inflates past the ", max_bytes, "-byte limit for an IDX file"));
    }
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) break;  // input ended early
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": corrupt or truncated gzip data (zlib code ", rc, ")"));
  }
  return out;
}

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

std::string Gzip(const std::string& raw) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, raw.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

absl::StatusOr<std::string> DecodeMaybeGzip(std::string bytes, const std::string& name, uint64_t max_bytes) {
  if (!IsGzip(bytes)) return bytes;
  return Gunzip(bytes, name, max_bytes);
}

absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, kMaxIdxBytes));
  return DecodeMaybeGzip(std::move(bytes), path);
}

absl::StatusOr<IdxArray> ParseIdx(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": IDX file of ", bytes.size(), " bytes has no 4-byte magic"));
  }
  const uint8_t type = static_cast<uint8_t>(bytes[2]);
  const int ndims = static_cast<uint8_t>(bytes[3]);
  if (bytes[0] != 0 || bytes[1] != 0 || type != kUnsignedByteType) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": bad IDX magic: expected 00 00 08 <ndims>, got ",
        absl::Hex(BigEndian32(bytes, 0), absl::kZeroPad8)));
  }
  if (ndims < 1 || ndims > kMaxDims) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": IDX dimension count ", ndims, " outside 1..", kMaxDims));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": truncated IDX header: ",
                                                   bytes.size(), " bytes, need ", header));
  }
  IdxArray array;
  uint64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint32_t size = BigEndian32(bytes, 4 + 4 * d);
    array.dims.push_back(size);
    // Four sizes below 2^32 can overflow 64 bits; cap before multiplying.
    if (size != 0 && count > std::numeric_limits<uint64_t>::max() / size) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": IDX sizes overflow"));
    }
    count *= size;
  }
  const uint64_t data = bytes.size() - header;
  if (data != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": IDX data is ", data, " bytes, but the sizes ask for ", count,
        data < count ? " (truncated)" : " (trailing bytes)"));
  }
  array.values.assign(bytes.begin() + header, bytes.end());
  return array;
}

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(std::string bytes, ReadMaybeGzipFile(path));
  return ParseIdx(bytes, path);
}

absl::StatusOr<ImageSet> ReadIdxImageSet(const std::string& images_path,
                                         const std::string& labels_path) {
  LIBRA_ASSIGN_OR_RETURN(IdxArray images, ReadIdxFile(images_path));
  LIBRA_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxFile(labels_path));
  if (images.dims.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        images_path, ": an image file needs 3 dimensions, got ", images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        labels_path, ": a label file needs 1 dimension, got ", labels.dims.size()));
  }
  if (labels.dims[0] != images.dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": ", labels.dims[0],
                                                   " labels for ", images.dims[0],
                                                   " images in ", images_path));
  }
  ImageSet set;
  set.rows = static_cast<int>(images.dims[1]);
  set.cols = static_cast<int>(images.dims[2]);
  set.pixels.reserve(images.values.size());
  for (uint8_t v : images.values) set.pixels.push_back(v / 255.0f);
  set.labels.assign(labels.values.begin(), labels.values.end());
  return set;
}

absl::Status WriteIdxFile(const std::string& path, const IdxArray& array) {
  std::string bytes = {0, 0, static_cast<char>(kUnsignedByteType),
                       static_cast<char>(array.dims.size())};
  for (int64_t d : array.dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(d >> shift));
  }
  bytes.append(array.values.begin(), array.values.end());
  return WriteFileAtomically(path, absl::EndsWith(path, ".gz") ? Gzip(bytes) : bytes);
}

}  // namespace libra::data
