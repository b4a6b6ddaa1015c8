// UTF-8 decoding and encoding that never fails.
//
// Tokenizers see arbitrary bytes. A byte that does not start a well-formed
// UTF-8 sequence (stray continuation byte, overlong form, surrogate, truncated
// sequence) decodes as one "invalid" unit of length 1, so every byte of the
// input belongs to exactly one unit and the text can be rebuilt exactly.
//
//   size_t pos = 0;
//   while (pos < text.size()) {
//     Utf8Unit unit = DecodeUtf8(text, pos);  // unit.codepoint, unit.length
//     pos += unit.length;
//   }
#ifndef LIBRA_CORE_TEXT_UTF8_H_
#define LIBRA_CORE_TEXT_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace libra::text {

// A decoded unit: a code point, or kInvalidCodepoint for a lone bad byte.
inline constexpr int32_t kInvalidCodepoint = -1;

struct Utf8Unit {
  int32_t codepoint = kInvalidCodepoint;
  size_t length = 1;  // bytes consumed, at least 1
};

// Decodes the unit starting at `pos` (pos < text.size()).
Utf8Unit DecodeUtf8(absl::string_view text, size_t pos);

// Appends the UTF-8 encoding of `codepoint` (0 <= codepoint <= 0x10FFFF).
void AppendUtf8(int32_t codepoint, std::string* out);

// Splits `text` into its units as substrings (each invalid byte on its own).
std::vector<absl::string_view> SplitUtf8(absl::string_view text);

// True when every byte of `text` belongs to a well-formed UTF-8 sequence.
bool IsValidUtf8(absl::string_view text);

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_UTF8_H_
