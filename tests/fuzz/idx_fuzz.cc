// An IDX file (MNIST / Fashion-MNIST format), plain or gzip'd, as the
// latent-replay paper's --data folder gives it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/data/images/idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A small inflation limit keeps gzip bombs within the fuzzer's memory limit.
  auto bytes = libra::data::DecodeMaybeGzip(std::string(reinterpret_cast<const char*>(data), size),
                                            "fuzz-idx1-ubyte.gz", /*max_bytes=*/64 << 20);
  if (bytes.ok()) (void)libra::data::ParseIdx(*bytes, "fuzz-idx1-ubyte.gz");
  return 0;
}
