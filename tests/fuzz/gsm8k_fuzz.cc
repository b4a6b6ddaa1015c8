// One GSM8K-format JSONL line (question, answer steps with <<a op b=c>>
// annotations, "#### N"), as the planning-tokens paper reads it.
#include <cstddef>
#include <cstdint>

#include "src/data/gsm8k.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)libra::data::ParseGsm8kLine(absl::string_view(reinterpret_cast<const char*>(data), size),
                                    "fuzz.jsonl:1");
  return 0;
}
