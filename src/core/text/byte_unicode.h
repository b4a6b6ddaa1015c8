// GPT-2's reversible map between bytes and printable Unicode characters.
//
// Byte-level BPE vocabularies store tokens as strings of these characters:
// the 188 printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves and
// the other 68 (controls, space, 0x7F-0xA0, 0xAD) to U+0100 onwards in byte
// order, so space is 'Ġ' (U+0120) and newline is 'Ċ' (U+010A).
//
//   std::string mapped = BytesToUnicode("a b");   // "aĠb"
//   std::string raw = UnicodeToBytes(mapped);      // "a b"
#ifndef LIBRA_CORE_TEXT_BYTE_UNICODE_H_
#define LIBRA_CORE_TEXT_BYTE_UNICODE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace libra::text {

// The code point that stands for `byte`.
int32_t ByteToCodepoint(uint8_t byte);

// The byte a code point stands for, or -1 when it is not in the map's image.
int ByteFromCodepoint(int32_t codepoint);

// Maps every byte of `bytes` to its character (UTF-8 encoded).
std::string BytesToUnicode(absl::string_view bytes);

// Inverse of BytesToUnicode. Characters outside the map's image are kept as
// their own UTF-8 bytes, so added tokens such as "<|endoftext|>" pass through.
std::string UnicodeToBytes(absl::string_view text);

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_BYTE_UNICODE_H_
