// A Hugging Face config.json.
#include <cstddef>
#include <cstdint>

#include "src/nn/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)libra::nn::ParseModelConfig(absl::string_view(reinterpret_cast<const char*>(data), size),
                                    "fuzz/config.json");
  return 0;
}
