// safetensors bytes: header, dtypes, shapes, data offsets; then every tensor
// read back and the finite check, as a merge would.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = libra::SafetensorsFile::FromBytes(
      std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  if (!file.ok()) return 0;
  for (const libra::TensorInfo& info : file->tensors()) {
    (void)file->ReadFloat(info.name);
    (void)file->ReadInt64(info.name);
    (void)file->RawBytes(info);
  }
  (void)file->CheckFinite();
  return 0;
}
