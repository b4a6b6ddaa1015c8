// WebAssembly-only stand-in for absl/strings/match.h (see wasm/README.md).
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_MATCH_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_MATCH_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace absl {

inline bool StrContains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}
inline bool StrContains(std::string_view haystack, char needle) {
  return haystack.find(needle) != std::string_view::npos;
}
inline bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}
inline bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_MATCH_H_
