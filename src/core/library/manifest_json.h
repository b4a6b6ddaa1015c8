// Manifest <-> JSON, field for field the proto3 JSON mapping of
// src/proto/library.proto with proto field names (what protobufjs and
// protobuf's JsonPrintOptions{preserve_proto_field_names} produce). Used by
// `libra library ls --json` and by the WebAssembly build, which has no
// libprotobuf.
//
//   nlohmann::json json = ManifestToJson(manifest);
//   LIBRA_ASSIGN_OR_RETURN(Manifest again, ManifestFromJson(json, "ls output"));
#ifndef LIBRA_CORE_LIBRARY_MANIFEST_JSON_H_
#define LIBRA_CORE_LIBRARY_MANIFEST_JSON_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "src/core/library/manifest.h"

namespace libra {

// Every field is written, defaults included; int64 values as JSON numbers.
nlohmann::json ExpertToJson(const ExpertRecord& expert);
nlohmann::json ManifestToJson(const Manifest& manifest);

// Accepts what ManifestToJson writes and the proto3 JSON mapping (int64 as
// strings, omitted defaults, "NaN"/"Infinity" doubles), then validates.
absl::StatusOr<Manifest> ManifestFromJson(const nlohmann::json& json, absl::string_view label);

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_MANIFEST_JSON_H_
