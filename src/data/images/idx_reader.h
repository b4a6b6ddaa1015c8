// Reads IDX files (the MNIST / Fashion-MNIST format), plain or gzip'd.
//
// Format: a 4-byte big-endian magic 0x00 0x00 TYPE NDIMS (TYPE 0x08 =
// unsigned byte, the only type these data sets use), NDIMS big-endian
// uint32 sizes, then the product of the sizes in bytes. The reader checks,
// in order: the magic's zero bytes and type, a dimension count of 1 to 4,
// that the header fits, and that the data is exactly the product of the
// sizes (a truncated or over-long file is an error). Every error names the
// file and what is wrong.
//
//   LIBRA_ASSIGN_OR_RETURN(ImageSet train, ReadIdxImageSet(
//       dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz"));
#ifndef LIBRA_DATA_IMAGES_IDX_READER_H_
#define LIBRA_DATA_IMAGES_IDX_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/data/images/image_set.h"

namespace libra::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;  // product(dims) bytes, row-major
};

// IDX files larger than this, on disk or inflated, are refused before they
// are read or while they inflate (Fashion-MNIST's largest is 47 MB).
inline constexpr uint64_t kMaxIdxBytes = 2ull << 30;

// The whole file, gunzipped when it starts with the gzip magic (1f 8b).
absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path);
// The same on bytes in memory; `name` is the file named in errors.
absl::StatusOr<std::string> DecodeMaybeGzip(std::string bytes, const std::string& name,
                                            uint64_t max_bytes = kMaxIdxBytes);

// Parses IDX bytes; `name` is the file named in errors.
absl::StatusOr<IdxArray> ParseIdx(const std::string& bytes, const std::string& name);
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);

// An image file (3 dims: count, rows, cols) and its label file (1 dim) of
// the same count; labels must be below 256 (they are bytes) and pixels are
// scaled by 1/255.
absl::StatusOr<ImageSet> ReadIdxImageSet(const std::string& images_path,
                                         const std::string& labels_path);

// Writes an unsigned-byte IDX file, gzip'd when the path ends in ".gz"
// (tests and small full-scale fixtures).
absl::Status WriteIdxFile(const std::string& path, const IdxArray& array);

}  // namespace libra::data

#endif  // LIBRA_DATA_IMAGES_IDX_READER_H_
