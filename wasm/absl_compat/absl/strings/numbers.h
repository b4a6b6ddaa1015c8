// WebAssembly-only stand-in for absl/strings/numbers.h (see wasm/README.md).
// Like absl: surrounding ASCII whitespace is allowed, anything else left
// over makes the parse fail.
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_NUMBERS_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_NUMBERS_H_

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace absl {
namespace numbers_internal {
inline std::string Trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}
}  // namespace numbers_internal

inline bool SimpleAtod(std::string_view text, double* out) {
  std::string trimmed = numbers_internal::Trimmed(text);
  if (trimmed.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(trimmed.c_str(), &end);
  return end == trimmed.c_str() + trimmed.size();
}

inline bool SimpleAtof(std::string_view text, float* out) {
  double value = 0;
  if (!SimpleAtod(text, &value)) return false;
  *out = static_cast<float>(value);
  return true;
}

template <typename Int>
bool SimpleAtoi(std::string_view text, Int* out) {
  std::string trimmed = numbers_internal::Trimmed(text);
  if (trimmed.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(trimmed.c_str(), &end, 10);
  if (errno != 0 || end != trimmed.c_str() + trimmed.size()) return false;
  if (value < static_cast<long long>(std::numeric_limits<Int>::min())) return false;
  if (value > 0 && static_cast<unsigned long long>(value) >
                       static_cast<unsigned long long>(std::numeric_limits<Int>::max()))
    return false;
  *out = static_cast<Int>(value);
  return true;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_NUMBERS_H_
