// tokenizer.json (BPE model, merges, added tokens, pre-tokenizer), then text
// encoded with the fuzzed tokenizer and decoded back. The input is the JSON,
// optionally followed by a NUL byte and the text to encode.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/text/hf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string json = input.substr(0, nul);
  const std::string text = nul == std::string::npos ? "Sort: 3 1 2, then héllo wörld!" : input.substr(nul + 1);
  auto tokenizer = libra::text::HfTokenizer::FromJsonString(json, "fuzz/tokenizer.json");
  if (!tokenizer.ok()) return 0;
  auto ids = tokenizer->Encode(text);
  if (ids.ok()) (void)tokenizer->Decode(*ids);
  return 0;
}
