// WebAssembly-only stand-in for absl/strings/str_format.h (see wasm/README.md).
//
//   absl::StrFormat("%s: %d of %g", name, int64_value, 0.5)
//
// Like absl, conversions adapt to the argument's type: %d takes any integer
// width, %s takes strings or numbers. Each conversion is handed to snprintf
// with the length modifier that matches the argument actually passed.
#ifndef LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_FORMAT_H_
#define LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_FORMAT_H_

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include <type_traits>

namespace absl {
namespace str_format_internal {

struct Arg {
  enum Kind { kSigned, kUnsigned, kDouble, kString, kChar, kPointer } kind;
  long long signed_value = 0;
  unsigned long long unsigned_value = 0;
  double double_value = 0;
  std::string string_value;
  const void* pointer_value = nullptr;

  template <typename T>
  static Arg From(const T& value) {
    Arg arg;
    if constexpr (std::is_same_v<T, char>) {
      arg.kind = kChar;
      arg.signed_value = value;
    } else if constexpr (std::is_same_v<T, bool>) {
      arg.kind = kSigned;
      arg.signed_value = value ? 1 : 0;
    } else if constexpr (std::is_enum_v<T>) {
      arg.kind = kSigned;
      arg.signed_value = static_cast<long long>(value);
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      arg.kind = kSigned;
      arg.signed_value = value;
    } else if constexpr (std::is_integral_v<T>) {
      arg.kind = kUnsigned;
      arg.unsigned_value = value;
    } else if constexpr (std::is_floating_point_v<T>) {
      arg.kind = kDouble;
      arg.double_value = value;
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      arg.kind = kString;
      arg.string_value = std::string(std::string_view(value));
    } else {
      arg.kind = kPointer;
      arg.pointer_value = static_cast<const void*>(value);
    }
    return arg;
  }
};

template <typename... Values>
std::string Snprintf(const char* spec, Values... values) {
  int size = std::snprintf(nullptr, 0, spec, values...);
  if (size <= 0) return std::string();
  std::string out(static_cast<size_t>(size) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec, values...);
  out.resize(static_cast<size_t>(size));
  return out;
}

inline std::string FormatOne(std::string flags, char conversion, const Arg& arg) {
  std::string spec = "%" + flags;
  switch (conversion) {
    case 'd': case 'i': case 'u': case 'o': case 'x': case 'X': case 'c':
      if (arg.kind == Arg::kDouble) return Snprintf((spec + "g").c_str(), arg.double_value);
      if (conversion == 'c') return Snprintf((spec + "c").c_str(), static_cast<int>(arg.signed_value));
      if (arg.kind == Arg::kUnsigned) {
        char unsigned_conversion = conversion == 'd' || conversion == 'i' ? 'u' : conversion;
        return Snprintf((spec + "ll" + unsigned_conversion).c_str(), arg.unsigned_value);
      }
      if (arg.kind == Arg::kString) return Snprintf((spec + "s").c_str(), arg.string_value.c_str());
      return Snprintf((spec + "ll" + conversion).c_str(), arg.signed_value);
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
      if (arg.kind == Arg::kSigned) return Snprintf((spec + conversion).c_str(), static_cast<double>(arg.signed_value));
      if (arg.kind == Arg::kUnsigned) return Snprintf((spec + conversion).c_str(), static_cast<double>(arg.unsigned_value));
      return Snprintf((spec + conversion).c_str(), arg.double_value);
    case 'p':
      return Snprintf((spec + "p").c_str(), arg.pointer_value);
    default:  // 's' and 'v': the value's natural text
      switch (arg.kind) {
        case Arg::kString: return Snprintf((spec + "s").c_str(), arg.string_value.c_str());
        case Arg::kChar: return Snprintf((spec + "c").c_str(), static_cast<int>(arg.signed_value));
        case Arg::kSigned: return Snprintf((spec + "lld").c_str(), arg.signed_value);
        case Arg::kUnsigned: return Snprintf((spec + "llu").c_str(), arg.unsigned_value);
        case Arg::kDouble: return Snprintf((spec + "g").c_str(), arg.double_value);
        case Arg::kPointer: return Snprintf((spec + "p").c_str(), arg.pointer_value);
      }
  }
  return std::string();
}

inline std::string Format(std::string_view format, std::initializer_list<Arg> args) {
  std::string out;
  auto next = args.begin();
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    std::string flags;
    size_t j = i + 1;
    while (j < format.size() && std::string_view("-+ #0123456789.").find(format[j]) != std::string_view::npos) {
      flags.push_back(format[j++]);
    }
    // Length modifiers are implied by the argument's type.
    while (j < format.size() && std::string_view("hlLjzt").find(format[j]) != std::string_view::npos) ++j;
    if (j >= format.size() || next == args.end()) break;
    out += FormatOne(flags, format[j], *next++);
    i = j;
  }
  return out;
}

}  // namespace str_format_internal

template <typename... Args>
std::string StrFormat(std::string_view format, const Args&... args) {
  return str_format_internal::Format(format, {str_format_internal::Arg::From(args)...});
}

template <typename... Args>
std::string& StrAppendFormat(std::string* out, std::string_view format, const Args&... args) {
  out->append(StrFormat(format, args...));
  return *out;
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STRINGS_STR_FORMAT_H_
