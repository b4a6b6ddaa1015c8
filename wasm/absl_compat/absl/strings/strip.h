// WebAssembly-only stand-in for absl/strings/strip.h (see wasm/README.md).
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STRIP_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STRIP_H_

#include <string_view>

#include "absl/strings/string_view.h"

#include "absl/strings/match.h"

namespace absl {

inline bool ConsumePrefix(std::string_view* text, std::string_view prefix) {
  if (!StartsWith(*text, prefix)) return false;
  text->remove_prefix(prefix.size());
  return true;
}
inline bool ConsumeSuffix(std::string_view* text, std::string_view suffix) {
  if (!EndsWith(*text, suffix)) return false;
  text->remove_suffix(suffix.size());
  return true;
}
inline std::string_view StripPrefix(std::string_view text, std::string_view prefix) {
  ConsumePrefix(&text, prefix);
  return text;
}
inline std::string_view StripSuffix(std::string_view text, std::string_view suffix) {
  ConsumeSuffix(&text, suffix);
  return text;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STRIP_H_
