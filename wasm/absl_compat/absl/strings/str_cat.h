// WebAssembly-only stand-in for absl/strings/str_cat.h (see wasm/README.md).
//
//   std::string s = absl::StrCat("tensor \"", name, "\": rank ", 2, ", scale ", 0.5);
//   absl::StrAppend(&s, "; more");
//
// Floating-point values print like absl's SixDigits (%g), integers exactly.
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_CAT_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_CAT_H_

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include <type_traits>

namespace absl {

class AlphaNum {
 public:
  AlphaNum(const char* text) : piece_(text == nullptr ? "" : text) {}
  AlphaNum(std::string_view text) : piece_(text) {}
  AlphaNum(const std::string& text) : piece_(text) {}
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int> &&
                                                      !std::is_same_v<Int, char> &&
                                                      !std::is_same_v<Int, bool>>>
  AlphaNum(Int value) : storage_(std::to_string(value)), piece_(storage_) {}
  AlphaNum(float value) : AlphaNum(static_cast<double>(value)) {}
  AlphaNum(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%g", value);
    storage_ = buffer;
    piece_ = storage_;
  }
  AlphaNum(const AlphaNum&) = delete;
  AlphaNum& operator=(const AlphaNum&) = delete;

  std::string_view Piece() const { return piece_; }

 private:
  std::string storage_;
  std::string_view piece_;
};

inline std::string StrCat() { return std::string(); }

template <typename... Args>
std::string StrCat(const AlphaNum& first, const Args&... rest) {
  std::string out(first.Piece());
  (out.append(AlphaNum(rest).Piece()), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... pieces) {
  (out->append(AlphaNum(pieces).Piece()), ...);
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_CAT_H_
