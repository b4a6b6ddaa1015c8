// The manifest's JSON form (what the browser reads): any JSON text, then the
// proto3 JSON mapping and the manifest's validation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "nlohmann/json.hpp"
#include "src/core/library/manifest_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  auto manifest = libra::ManifestFromJson(json, "fuzz/library.json");
  if (!manifest.ok()) return 0;
  if (!libra::ManifestFromJson(libra::ManifestToJson(*manifest), "rewritten").ok()) std::abort();
  return 0;
}
