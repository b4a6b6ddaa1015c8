// WebAssembly-only stand-in for absl/strings/escaping.h (see wasm/README.md):
// CHexEscape, as absl: \n \r \t \" \' \\ escaped by name, other bytes
// outside printable ASCII as \xHH (lowercase hex).
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_ESCAPING_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_ESCAPING_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace absl {

inline std::string CHexEscape(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\"': out += "\\\""; break;
      case '\'': out += "\\'"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_ESCAPING_H_
