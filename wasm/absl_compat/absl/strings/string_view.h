// WebAssembly-only stand-in for absl/strings/string_view.h: std::string_view.
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STRING_VIEW_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STRING_VIEW_H_

#include <string_view>

namespace absl {
using std::string_view;
}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STRING_VIEW_H_
