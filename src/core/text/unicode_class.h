// Character classes for pre-tokenizer rules: \p{L}, \p{N} and \s.
//
// ASCII is classified exactly as the regex engines behind Hugging Face
// tokenizers do. Beyond ASCII, compact range tables cover the scripts and
// blocks that occur in practice (Latin, Greek, Cyrillic, Armenian, Hebrew,
// Arabic, Indic, Thai, Georgian, Hangul, kana, CJK, fullwidth forms) and the
// Unicode White_Space set exactly; anything else (symbols, marks, emoji,
// invalid bytes) counts as "other", i.e. punctuation-like. This keeps the
// core free of multi-megabyte Unicode tables at the cost of rare differences
// on letters from scripts the tables do not list.
//
//   if (IsLetter(cp)) ...   // cp from DecodeUtf8; kInvalidCodepoint is "other"
#ifndef LIBRA_CORE_TEXT_UNICODE_CLASS_H_
#define LIBRA_CORE_TEXT_UNICODE_CLASS_H_

#include <cstdint>

namespace libra::text {

bool IsLetter(int32_t codepoint);      // \p{L}
bool IsNumber(int32_t codepoint);      // \p{N}
bool IsWhitespace(int32_t codepoint);  // \s (Unicode White_Space)

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_UNICODE_CLASS_H_
