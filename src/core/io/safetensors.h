// safetensors reading and writing, strict and streaming.
//
// Format: 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
//   {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "string", ..}}
// then the raw little-endian row-major data; offsets are relative to the end
// of the header. The reader rejects, with the file and tensor named: a file
// shorter than 8 bytes, a header longer than kMaxHeaderBytes or than the
// file, invalid UTF-8/JSON, unknown dtypes, non-string metadata, element
// count x dtype size != byte span, offsets outside the data, overlaps, gaps
// (data must be exactly covered), and trailing bytes.
//
//   LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
//   LIBRA_ASSIGN_OR_RETURN(Tensor a, file.ReadFloat("q_proj.lora_A.weight"));
//
//   SafetensorsWriter writer;  // collects tensors, writes atomically
//   writer.Add("x", tensor, DType::kBF16);
//   LIBRA_RETURN_IF_ERROR(writer.WriteAtomically(path));
#ifndef LIBRA_CORE_IO_SAFETENSORS_H_
#define LIBRA_CORE_IO_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/core/tensor.h"

namespace libra {

inline constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Memory-maps `path` (read-only) and validates its header.
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);
  // Same checks on bytes already in memory (WebAssembly, tests); `label`
  // names the source in error messages.
  static absl::StatusOr<SafetensorsFile> FromBytes(std::string bytes, std::string label);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& label() const { return label_; }
  // Tensors in the order of their data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* Find(absl::string_view name) const;

  // F32, F16, BF16 and F64 tensors as float32.
  absl::StatusOr<Tensor> ReadFloat(absl::string_view name) const;
  // I64, I32, I16, I8, U8 and BOOL tensors as int64.
  absl::StatusOr<Int64Tensor> ReadInt64(absl::string_view name) const;
  absl::Span<const uint8_t> RawBytes(const TensorInfo& info) const;
  // Lets the OS drop this file's mapped pages from the process's resident
  // memory (streaming merges read each tensor once). The whole mapping, not
  // one tensor: the kernel's fault-around maps neighbouring pages too.
  // Reading again faults pages back in. A no-op for FromBytes and WebAssembly.
  void ReleasePages() const;

  // Error naming the first tensor holding a NaN or Inf. Not run by Open().
  absl::Status CheckFinite() const;

 private:
  struct Mapping;
  SafetensorsFile() = default;
  std::string label_;
  std::unique_ptr<Mapping> mapping_;
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses and validates a header against `data_size` bytes of data.
// Exposed for the fuzz test.
absl::Status ParseHeader(absl::string_view header_json, uint64_t data_size,
                         absl::string_view label, std::vector<TensorInfo>* tensors,
                         std::map<std::string, std::string>* metadata);

class SafetensorsWriter {
 public:
  // Float tensors are stored in `dtype` (F32, F16 or BF16).
  absl::Status Add(std::string name, const Tensor& tensor, DType dtype = DType::kF32);
  // Integer tensors are stored as I64.
  absl::Status AddInt64(std::string name, const Int64Tensor& tensor);
  void SetMetadata(std::string key, std::string value);

  // The complete file image (WebAssembly, tests).
  std::string Serialize() const;
  // Temp file in the same folder, fsync, rename over `path`, fsync folder.
  absl::Status WriteAtomically(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::string bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors one at a time, for merges that stream module by module: the
// header is written first from the declared specs, so peak memory is one
// tensor. Data goes to a temporary file that Commit() fsyncs and renames;
// a writer destroyed without Commit() removes it, leaving `path` untouched.
class SafetensorsStreamWriter {
 public:
  struct Spec {
    std::string name;
    DType dtype = DType::kF32;  // F32, F16, BF16 or I64
    Shape shape;
  };
  static absl::StatusOr<SafetensorsStreamWriter> Create(
      const std::string& path, std::vector<Spec> specs,
      std::map<std::string, std::string> metadata = {});

  SafetensorsStreamWriter(SafetensorsStreamWriter&&) noexcept;
  SafetensorsStreamWriter& operator=(SafetensorsStreamWriter&&) noexcept;
  ~SafetensorsStreamWriter();

  // The next declared tensor, in declaration order; shape must match.
  absl::Status Append(const Tensor& tensor);
  absl::Status AppendInt64(const Int64Tensor& tensor);
  absl::Status Commit();

 private:
  struct State;
  explicit SafetensorsStreamWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace libra

#endif  // LIBRA_CORE_IO_SAFETENSORS_H_
