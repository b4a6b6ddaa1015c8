// library.pb bytes: the protobuf wire format, then the manifest's validation;
// a valid manifest must serialize and parse back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/core/library/manifest_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto manifest = libra::ParseManifest(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz/library.pb");
  if (!manifest.ok()) return 0;
  if (!libra::ParseManifest(libra::SerializeManifest(*manifest), "reserialized").ok()) std::abort();
  return 0;
}
