#include "src/core/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef __EMSCRIPTEN__
#include <sys/mman.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view label, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " (", label, ")"));
}

absl::Status InvalidTensor(absl::string_view label, absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\": ", what, " (", label, ")"));
}

uint64_t ReadLittleEndianU64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

bool IsFloatType(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kF64;
}

// Reads element i of a possibly unaligned little-endian buffer as float.
template <typename T>
T LoadUnaligned(const uint8_t* bytes, int64_t i) {
  T value;
  std::memcpy(&value, bytes + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return value;
}

float LoadFloat(DType dtype, const uint8_t* bytes, int64_t i) {
  switch (dtype) {
    case DType::kF32: return LoadUnaligned<float>(bytes, i);
    case DType::kF16: return HalfToFloat(LoadUnaligned<uint16_t>(bytes, i));
    case DType::kBF16: return BFloat16ToFloat(LoadUnaligned<uint16_t>(bytes, i));
    case DType::kF64: return static_cast<float>(LoadUnaligned<double>(bytes, i));
    default: return 0.0f;
  }
}

absl::Status ParseEntry(const std::string& name, const Json& entry, absl::string_view label,
                        TensorInfo* info) {
  if (!entry.is_object()) return InvalidTensor(label, name, "entry is not an object");
  for (const auto& [key, value] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return InvalidTensor(label, name, absl::StrCat("unknown field \"", key, "\""));
    }
  }
  const auto dtype_it = entry.find("dtype");
  const auto shape_it = entry.find("shape");
  const auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return InvalidTensor(label, name, "missing string field \"dtype\"");
  }
  absl::StatusOr<DType> dtype = ParseDType(dtype_it->get<std::string>());
  if (!dtype.ok()) return InvalidTensor(label, name, dtype.status().message());
  info->name = name;
  info->dtype = *dtype;
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return InvalidTensor(label, name, "missing array field \"shape\"");
  }
  info->shape.clear();
  for (const Json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) return InvalidTensor(label, name, "shape holds a non-integer or negative dimension");
    info->shape.push_back(static_cast<int64_t>(std::min<uint64_t>(dim.get<uint64_t>(), INT64_MAX)));
  }
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return InvalidTensor(label, name, "\"data_offsets\" must be two non-negative integers");
  }
  info->begin = (*offsets_it)[0].get<uint64_t>();
  info->end = (*offsets_it)[1].get<uint64_t>();
  if (info->begin > info->end) return InvalidTensor(label, name, "data_offsets begin after end");
  absl::StatusOr<int64_t> count = NumElements(info->shape);
  if (!count.ok()) return InvalidTensor(label, name, count.status().message());
  const uint64_t elements = static_cast<uint64_t>(*count);
  const uint64_t size = DTypeSize(info->dtype);
  if (elements != 0 && size > UINT64_MAX / elements) return InvalidTensor(label, name, "byte size overflows");
  if (elements * size != info->end - info->begin) {
    return InvalidTensor(label, name,
                         absl::StrCat("shape ", ShapeToString(info->shape), " of ", DTypeName(info->dtype),
                                      " needs ", elements * size, " bytes, data_offsets span ",
                                      info->end - info->begin));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseHeader(absl::string_view header_json, uint64_t data_size, absl::string_view label,
                         std::vector<TensorInfo>* tensors, std::map<std::string, std::string>* metadata) {
  tensors->clear();
  metadata->clear();
  // nlohmann keeps the last of duplicate keys silently; a strict reader refuses them.
  std::set<std::string> top_level_keys;
  std::string duplicate;
  const Json::parser_callback_t check_duplicates = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key &&
        !top_level_keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  // Rejects invalid UTF-8 and malformed JSON without throwing.
  const Json header = Json::parse(header_json.begin(), header_json.end(), check_duplicates,
                                  /*allow_exceptions=*/false);
  if (header.is_discarded()) return Invalid(label, "header is not valid UTF-8 JSON");
  if (!header.is_object()) return Invalid(label, "header is not a JSON object");
  if (!duplicate.empty()) return InvalidTensor(label, duplicate, "appears twice in the header");
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return Invalid(label, "__metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          return Invalid(label, absl::StrCat("__metadata__ value of \"", meta_key, "\" is not a string"));
        }
        (*metadata)[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    TensorInfo info;
    LIBRA_RETURN_IF_ERROR(ParseEntry(key, value, label, &info));
    tensors->push_back(std::move(info));
  }
  std::stable_sort(tensors->begin(), tensors->end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Data must be covered exactly: each tensor starts where the last ended.
  uint64_t expected_begin = 0;
  for (const TensorInfo& info : *tensors) {
    if (info.begin < expected_begin) {
      return InvalidTensor(label, info.name, absl::StrCat("data_offsets overlap the previous tensor (begin ",
                                                          info.begin, " < ", expected_begin, ")"));
    }
    if (info.begin > expected_begin) {
      return InvalidTensor(label, info.name, absl::StrCat("gap in the data before this tensor (begin ",
                                                          info.begin, ", expected ", expected_begin, ")"));
    }
    if (info.end > data_size) {
      return InvalidTensor(label, info.name, absl::StrCat("data_offsets end ", info.end,
                                                          " beyond the data (", data_size, " bytes)"));
    }
    expected_begin = info.end;
  }
  if (expected_begin != data_size) {
    return Invalid(label, absl::StrCat("trailing bytes: tensors cover ", expected_begin, " of ", data_size,
                                       " data bytes"));
  }
  return absl::OkStatus();
}

struct SafetensorsFile::Mapping {
  void* address = nullptr;  // mmap'ed file, or null when `bytes` holds the data
  size_t length = 0;
  std::string bytes;
  ~Mapping() {
#ifndef __EMSCRIPTEN__
    if (address != nullptr) munmap(address, length);
#endif
  }
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

namespace {

absl::Status ParseFileImage(const uint8_t* bytes, uint64_t size, absl::string_view label,
                            uint64_t* data_offset, std::vector<TensorInfo>* tensors,
                            std::map<std::string, std::string>* metadata) {
  if (size < 8) return Invalid(label, absl::StrCat("file too short for a safetensors header (", size, " bytes)"));
  const uint64_t header_size = ReadLittleEndianU64(bytes);
  if (header_size > kMaxHeaderBytes) {
    return Invalid(label, absl::StrCat("header length ", header_size, " exceeds the ", kMaxHeaderBytes, " byte limit"));
  }
  if (header_size > size - 8) {
    return Invalid(label, absl::StrCat("header length ", header_size, " runs past the end of the file (",
                                       size, " bytes)"));
  }
  *data_offset = 8 + header_size;
  const absl::string_view header(reinterpret_cast<const char*>(bytes + 8), header_size);
  return ParseHeader(header, size - *data_offset, label, tensors, metadata);
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  SafetensorsFile file;
  file.label_ = path;
  file.mapping_ = std::make_unique<Mapping>();
#ifdef __EMSCRIPTEN__
  LIBRA_ASSIGN_OR_RETURN(file.mapping_->bytes, ReadFile(path));
  const uint8_t* image = reinterpret_cast<const uint8_t*>(file.mapping_->bytes.data());
  const uint64_t size = file.mapping_->bytes.size();
#else
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open: ", std::strerror(errno), " (", path, ")"));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return Invalid(path, "not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  const uint8_t* image = nullptr;
  if (size > 0) {
    void* address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      close(fd);
      return absl::InternalError(absl::StrCat("mmap failed: ", std::strerror(errno), " (", path, ")"));
    }
    file.mapping_->address = address;
    file.mapping_->length = size;
    image = static_cast<const uint8_t*>(address);
  }
  close(fd);
#endif
  uint64_t data_offset = 0;
  LIBRA_RETURN_IF_ERROR(ParseFileImage(image, size, path, &data_offset, &file.tensors_, &file.metadata_));
  file.data_ = image + data_offset;
  file.data_size_ = size - data_offset;
  return file;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::FromBytes(std::string bytes, std::string label) {
  SafetensorsFile file;
  file.label_ = std::move(label);
  file.mapping_ = std::make_unique<Mapping>();
  file.mapping_->bytes = std::move(bytes);
  const uint8_t* image = reinterpret_cast<const uint8_t*>(file.mapping_->bytes.data());
  const uint64_t size = file.mapping_->bytes.size();
  uint64_t data_offset = 0;
  LIBRA_RETURN_IF_ERROR(ParseFileImage(image, size, file.label_, &data_offset, &file.tensors_, &file.metadata_));
  file.data_ = image + data_offset;
  file.data_size_ = size - data_offset;
  return file;
}

const TensorInfo* SafetensorsFile::Find(absl::string_view name) const {
  for (const TensorInfo& info : tensors_) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

absl::Span<const uint8_t> SafetensorsFile::RawBytes(const TensorInfo& info) const {
  return absl::Span<const uint8_t>(data_ + info.begin, info.end - info.begin);
}

void SafetensorsFile::ReleasePages() const {
#ifndef __EMSCRIPTEN__
  // Clean read-only private pages: dropping them loses nothing.
  if (mapping_ != nullptr && mapping_->address != nullptr) {
    madvise(mapping_->address, mapping_->length, MADV_DONTNEED);
  }
#endif
}

absl::StatusOr<Tensor> SafetensorsFile::ReadFloat(absl::string_view name) const {
  const TensorInfo* info = Find(name);
  if (info == nullptr) return absl::NotFoundError(absl::StrCat("no tensor \"", name, "\" (", label_, ")"));
  if (!IsFloatType(info->dtype)) {
    return InvalidTensor(label_, name, absl::StrCat("expected a float dtype, got ", DTypeName(info->dtype)));
  }
  const int64_t count = *NumElements(info->shape);
  std::vector<float> values(count);
  const uint8_t* bytes = data_ + info->begin;
  if (info->dtype == DType::kF32) {
    if (count > 0) std::memcpy(values.data(), bytes, count * sizeof(float));
  } else {
    for (int64_t i = 0; i < count; ++i) values[i] = LoadFloat(info->dtype, bytes, i);
  }
  return Tensor(info->shape, std::move(values));
}

absl::StatusOr<Int64Tensor> SafetensorsFile::ReadInt64(absl::string_view name) const {
  const TensorInfo* info = Find(name);
  if (info == nullptr) return absl::NotFoundError(absl::StrCat("no tensor \"", name, "\" (", label_, ")"));
  const int64_t count = *NumElements(info->shape);
  const uint8_t* bytes = data_ + info->begin;
  Int64Tensor result{info->shape, std::vector<int64_t>(count)};
  for (int64_t i = 0; i < count; ++i) {
    switch (info->dtype) {
      case DType::kI64: result.values[i] = LoadUnaligned<int64_t>(bytes, i); break;
      case DType::kI32: result.values[i] = LoadUnaligned<int32_t>(bytes, i); break;
      case DType::kI16: result.values[i] = LoadUnaligned<int16_t>(bytes, i); break;
      case DType::kI8: result.values[i] = LoadUnaligned<int8_t>(bytes, i); break;
      case DType::kU8:
      case DType::kBool: result.values[i] = bytes[i]; break;
      default:
        return InvalidTensor(label_, name, absl::StrCat("expected an integer dtype, got ", DTypeName(info->dtype)));
    }
  }
  return result;
}

absl::Status SafetensorsFile::CheckFinite() const {
  for (const TensorInfo& info : tensors_) {
    if (!IsFloatType(info.dtype)) continue;
    const int64_t count = *NumElements(info.shape);
    const uint8_t* bytes = data_ + info.begin;
    for (int64_t i = 0; i < count; ++i) {
      if (!std::isfinite(LoadFloat(info.dtype, bytes, i))) {
        return InvalidTensor(label_, info.name, absl::StrCat("non-finite value at element ", i));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace libra
