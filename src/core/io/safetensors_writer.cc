// The writing half of safetensors.h: whole-file and streaming writers.
#include <cstring>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

void AppendLittleEndianU64(uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Encodes float32 values as `dtype` bytes (little-endian, as the host).
void AppendEncoded(const float* values, int64_t count, DType dtype, std::string* out) {
  // An empty tensor's data pointer may be null, and memcpy from null is
  // undefined even for 0 bytes (UBSan's finding).
  if (count == 0) return;
  const size_t start = out->size();
  out->resize(start + count * DTypeSize(dtype));
  char* dest = out->data() + start;
  if (dtype == DType::kF32) {
    std::memcpy(dest, values, count * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint16_t bits = dtype == DType::kF16 ? FloatToHalf(values[i]) : FloatToBFloat16(values[i]);
    std::memcpy(dest + 2 * i, &bits, 2);
  }
}

absl::Status CheckNewName(absl::string_view name, const std::set<std::string>& taken) {
  if (name.empty()) return absl::InvalidArgumentError("empty tensor name");
  if (name == "__metadata__") return absl::InvalidArgumentError("tensor name \"__metadata__\" is reserved");
  if (taken.count(std::string(name))) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\" added twice"));
  }
  return absl::OkStatus();
}

// The header for tensors laid out back to back in the given order, padded
// with spaces to a multiple of 8 bytes so the data stays aligned.
std::string BuildHeader(const std::vector<std::tuple<std::string, DType, Shape>>& layout,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, dtype, shape] : layout) {
    const uint64_t bytes = static_cast<uint64_t>(*NumElements(shape)) * DTypeSize(dtype);
    header[name] = {{"dtype", DTypeName(dtype)}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  AppendLittleEndianU64(json.size(), &out);
  out += json;
  return out;
}

}  // namespace

absl::Status SafetensorsWriter::Add(std::string name, const Tensor& tensor, DType dtype) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor \"", name, "\": cannot store floats as ", DTypeName(dtype)));
  }
  std::set<std::string> taken;
  for (const Entry& entry : entries_) taken.insert(entry.name);
  LIBRA_RETURN_IF_ERROR(CheckNewName(name, taken));
  Entry entry{std::move(name), dtype, tensor.shape(), {}};
  AppendEncoded(tensor.data(), tensor.size(), dtype, &entry.bytes);
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::AddInt64(std::string name, const Int64Tensor& tensor) {
  std::set<std::string> taken;
  for (const Entry& entry : entries_) taken.insert(entry.name);
  LIBRA_RETURN_IF_ERROR(CheckNewName(name, taken));
  absl::StatusOr<int64_t> count = NumElements(tensor.shape);
  if (!count.ok() || *count != static_cast<int64_t>(tensor.values.size())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\": shape ", ShapeToString(tensor.shape),
                                                   " does not match ", tensor.values.size(), " values"));
  }
  Entry entry{std::move(name), DType::kI64, tensor.shape, {}};
  entry.bytes.assign(reinterpret_cast<const char*>(tensor.values.data()), tensor.values.size() * sizeof(int64_t));
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

void SafetensorsWriter::SetMetadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
}

std::string SafetensorsWriter::Serialize() const {
  std::vector<std::tuple<std::string, DType, Shape>> layout;
  for (const Entry& entry : entries_) layout.emplace_back(entry.name, entry.dtype, entry.shape);
  std::string out = BuildHeader(layout, metadata_);
  for (const Entry& entry : entries_) out += entry.bytes;
  return out;
}

absl::Status SafetensorsWriter::WriteAtomically(const std::string& path) const {
  std::vector<std::tuple<std::string, DType, Shape>> layout;
  for (const Entry& entry : entries_) layout.emplace_back(entry.name, entry.dtype, entry.shape);
  LIBRA_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  LIBRA_RETURN_IF_ERROR(file.Write(BuildHeader(layout, metadata_)));
  for (const Entry& entry : entries_) LIBRA_RETURN_IF_ERROR(file.Write(entry.bytes));
  return file.Commit();
}

struct SafetensorsStreamWriter::State {
  AtomicFile file;
  std::vector<Spec> specs;
  size_t next = 0;
  std::string buffer;
};

SafetensorsStreamWriter::SafetensorsStreamWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
SafetensorsStreamWriter::SafetensorsStreamWriter(SafetensorsStreamWriter&&) noexcept = default;
SafetensorsStreamWriter& SafetensorsStreamWriter::operator=(SafetensorsStreamWriter&&) noexcept = default;
SafetensorsStreamWriter::~SafetensorsStreamWriter() = default;

absl::StatusOr<SafetensorsStreamWriter> SafetensorsStreamWriter::Create(
    const std::string& path, std::vector<Spec> specs, std::map<std::string, std::string> metadata) {
  std::set<std::string> taken;
  std::vector<std::tuple<std::string, DType, Shape>> layout;
  for (const Spec& spec : specs) {
    LIBRA_RETURN_IF_ERROR(CheckNewName(spec.name, taken));
    taken.insert(spec.name);
    if (spec.dtype != DType::kF32 && spec.dtype != DType::kF16 && spec.dtype != DType::kBF16 &&
        spec.dtype != DType::kI64) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", spec.name, "\": unsupported output dtype ", DTypeName(spec.dtype)));
    }
    absl::StatusOr<int64_t> count = NumElements(spec.shape);
    if (!count.ok()) return absl::InvalidArgumentError(absl::StrCat("tensor \"", spec.name, "\": ", count.status().message()));
    layout.emplace_back(spec.name, spec.dtype, spec.shape);
  }
  LIBRA_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  LIBRA_RETURN_IF_ERROR(file.Write(BuildHeader(layout, metadata)));
  auto state = std::make_unique<State>(State{std::move(file), std::move(specs), 0, {}});
  return SafetensorsStreamWriter(std::move(state));
}

absl::Status SafetensorsStreamWriter::Append(const Tensor& tensor) {
  if (state_->next >= state_->specs.size()) {
    return absl::FailedPreconditionError(absl::StrCat("more tensors than declared (", state_->file.path(), ")"));
  }
  const Spec& spec = state_->specs[state_->next];
  if (spec.dtype == DType::kI64) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", spec.name, "\": declared I64, got floats"));
  }
  if (tensor.shape() != spec.shape) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", spec.name, "\": expected ", ShapeToString(spec.shape),
                                                   ", got ", ShapeToString(tensor.shape())));
  }
  if (spec.dtype == DType::kF32) {
    // Already the on-disk encoding: write straight from the tensor, so a
    // streaming merge holds no second copy of its largest output.
    LIBRA_RETURN_IF_ERROR(state_->file.Write(absl::string_view(
        reinterpret_cast<const char*>(tensor.data()), tensor.size() * sizeof(float))));
  } else {
    state_->buffer.clear();
    AppendEncoded(tensor.data(), tensor.size(), spec.dtype, &state_->buffer);
    LIBRA_RETURN_IF_ERROR(state_->file.Write(state_->buffer));
  }
  ++state_->next;
  return absl::OkStatus();
}

absl::Status SafetensorsStreamWriter::AppendInt64(const Int64Tensor& tensor) {
  if (state_->next >= state_->specs.size()) {
    return absl::FailedPreconditionError(absl::StrCat("more tensors than declared (", state_->file.path(), ")"));
  }
  const Spec& spec = state_->specs[state_->next];
  if (spec.dtype != DType::kI64 || tensor.shape != spec.shape ||
      static_cast<int64_t>(tensor.values.size()) != *NumElements(spec.shape)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", spec.name, "\": expected ", DTypeName(spec.dtype), " ",
                                                   ShapeToString(spec.shape), ", got I64 ", ShapeToString(tensor.shape)));
  }
  LIBRA_RETURN_IF_ERROR(state_->file.Write(absl::string_view(
      reinterpret_cast<const char*>(tensor.values.data()), tensor.values.size() * sizeof(int64_t))));
  ++state_->next;
  return absl::OkStatus();
}

absl::Status SafetensorsStreamWriter::Commit() {
  if (state_->next != state_->specs.size()) {
    return absl::FailedPreconditionError(absl::StrCat("only ", state_->next, " of ", state_->specs.size(),
                                                      " declared tensors written (", state_->file.path(), ")"));
  }
  return state_->file.Commit();
}

}  // namespace libra
