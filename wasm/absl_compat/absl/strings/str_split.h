// WebAssembly-only stand-in for absl/strings/str_split.h (see wasm/README.md):
// StrSplit on a single character, every piece kept (empty ones too, as
// absl's default), returned as views into the text. Iterate it or convert
// it to std::vector<std::string_view> / std::vector<std::string>.
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_SPLIT_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_SPLIT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace absl {

class SplitPieces : public std::vector<std::string_view> {
 public:
  using std::vector<std::string_view>::vector;
  operator std::vector<std::string>() const { return std::vector<std::string>(begin(), end()); }
};

inline SplitPieces StrSplit(std::string_view text, char delimiter) {
  SplitPieces pieces;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(delimiter, start);
    if (at == std::string_view::npos) {
      pieces.push_back(text.substr(start));
      return pieces;
    }
    pieces.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_SPLIT_H_
