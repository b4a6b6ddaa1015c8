// WebAssembly-only stand-in for absl/strings/str_join.h (see wasm/README.md).
//
//   absl::StrJoin(std::vector<int64_t>{4, 16}, ", ")  // "4, 16"
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_JOIN_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_JOIN_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace absl {

template <typename Range>
std::string StrJoin(const Range& range, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& element : range) {
    if (!first) out.append(separator);
    first = false;
    out.append(AlphaNum(element).Piece());
  }
  return out;
}

template <typename T>
std::string StrJoin(std::initializer_list<T> range, std::string_view separator) {
  return StrJoin<std::initializer_list<T>>(range, separator);
}

// Formatter form: formatter(std::string* out, const Element& element).
template <typename Range, typename Formatter>
std::string StrJoin(const Range& range, std::string_view separator, Formatter&& formatter) {
  std::string out;
  bool first = true;
  for (const auto& element : range) {
    if (!first) out.append(separator);
    first = false;
    formatter(&out, element);
  }
  return out;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_JOIN_H_
