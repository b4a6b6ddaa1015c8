// The mergekit-style merge YAML of `libra merge --config`.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/cli/merge_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)libra::cli::ParseMergeConfig(std::string(reinterpret_cast<const char*>(data), size),
                                     "fuzz/merge.yaml");
  return 0;
}
