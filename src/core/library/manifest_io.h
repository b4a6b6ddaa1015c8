// library.pb bytes <-> Manifest. The only code that links libprotobuf; the
// WebAssembly build replaces it (see manifest_json.h).
//
//   LIBRA_ASSIGN_OR_RETURN(std::string bytes, ReadFile(dir + "/library.pb"));
//   LIBRA_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(bytes, dir + "/library.pb"));
//   LIBRA_RETURN_IF_ERROR(WriteFileAtomically(path, SerializeManifest(manifest)));
#ifndef LIBRA_CORE_LIBRARY_MANIFEST_IO_H_
#define LIBRA_CORE_LIBRARY_MANIFEST_IO_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/library/manifest.h"

namespace libra {

// Deterministic bytes (maps in key order).
std::string SerializeManifest(const Manifest& manifest);
// Parses and validates (ValidateManifest); `label` names the file in errors.
absl::StatusOr<Manifest> ParseManifest(absl::string_view bytes, absl::string_view label);

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_MANIFEST_IO_H_
