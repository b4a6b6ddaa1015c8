// Expert (and auxiliary kind) names: they become file names inside the
// library folder, so they must not be able to point outside it.
//
//   LIBRA_RETURN_IF_ERROR(ValidateExpertName(name));  // "../x" -> InvalidArgument
#ifndef LIBRA_CORE_LIBRARY_EXPERT_NAME_H_
#define LIBRA_CORE_LIBRARY_EXPERT_NAME_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace libra {

inline constexpr size_t kMaxExpertNameLength = 128;

// Non-empty, at most kMaxExpertNameLength bytes, printable ASCII, no '/' or
// '\', no "..", not starting with '.' or '-' (hidden files, flags).
absl::Status ValidateExpertName(absl::string_view name);

// A relative path inside the library folder: no absolute paths, no ".."
// components, no backslashes (guards against a tampered manifest).
absl::Status ValidateRelativeFileName(absl::string_view file_name);

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_EXPERT_NAME_H_
