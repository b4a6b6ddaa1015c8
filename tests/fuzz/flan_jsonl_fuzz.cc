// One Flan-style JSONL line (source, target, task_name, split, options), read
// as the training and evaluation commands read it.
#include <cstddef>
#include <cstdint>

#include "src/data/flan_jsonl_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  libra::data::FlanReadOptions options;
  (void)libra::data::ParseFlanLine(absl::string_view(reinterpret_cast<const char*>(data), size),
                                   options, "fuzz.jsonl:1");
  return 0;
}
