// The merge-method registry: one explicit list, no self-registering statics
// (linkers, WebAssembly's included, can silently drop those).
//
//   absl::StatusOr<const MethodSpec*> method = FindMethod("ties");
//   if (!method.ok()) ...  // NotFound: unknown method "tiez" (known: linear, ...)
#ifndef LIBRA_CORE_MERGE_REGISTRY_H_
#define LIBRA_CORE_MERGE_REGISTRY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/core/merge/method.h"

namespace libra::merge {

// Every method libra implements, in a fixed order.
absl::Span<const MethodSpec> AllMethods();

// NotFound for an unknown name, listing the known ones.
absl::StatusOr<const MethodSpec*> FindMethod(absl::string_view name);

// "linear, uniform, ..." for help texts and errors.
std::string KnownMethodNames();

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_REGISTRY_H_
