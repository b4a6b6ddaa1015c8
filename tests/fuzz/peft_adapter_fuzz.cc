// A PEFT adapter folder: adapter_config.json, a NUL byte, then
// adapter_model.safetensors; imported as `libra library add --peft` does.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/io/safetensors.h"
#include "src/core/peft/peft_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  if (nul == std::string::npos) return 0;
  auto weights = libra::SafetensorsFile::FromBytes(input.substr(nul + 1), "fuzz/adapter_model.safetensors");
  if (!weights.ok()) return 0;
  (void)libra::ParsePeftAdapter(input.substr(0, nul), "fuzz/adapter_config.json", *weights);
  return 0;
}
