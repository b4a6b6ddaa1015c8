// WebAssembly-only stand-in for absl/strings/str_replace.h (see wasm/README.md).
//
//   absl::StrReplaceAll("a b", {{" ", "_"}})  // "a_b"
// Scans left to right; at each position the first listed pattern that
// matches is replaced, and scanning resumes after it (no re-replacement).
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_REPLACE_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_REPLACE_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include <utility>

namespace absl {

inline std::string StrReplaceAll(
    std::string_view text,
    std::initializer_list<std::pair<std::string_view, std::string_view>> replacements) {
  std::string out;
  size_t position = 0;
  while (position < text.size()) {
    bool replaced = false;
    for (const auto& [from, to] : replacements) {
      if (!from.empty() && text.substr(position, from.size()) == from) {
        out.append(to);
        position += from.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(text[position++]);
  }
  return out;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_REPLACE_H_
