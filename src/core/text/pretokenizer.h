// Hand-written equivalents of the pre-tokenizer regexes of byte-level BPE
// tokenizers (no std::regex: it has no Unicode classes and is slow).
//
// kGpt2 (GPT-2, RoBERTa, Phi-2; HF ByteLevel with use_regex):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// kCl100k (Llama-3; digits in runs of up to 3) and kQwen2 (single digits):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Alternatives are tried in order at each position, exactly as a
// backtracking regex engine would, so the pieces concatenate to the input.
// Character classes come from unicode_class.h.
//
//   std::vector<absl::string_view> pieces = PreTokenize(PreTokenizerRegex::kGpt2, "Hello world");
//   // {"Hello", " world"}
#ifndef LIBRA_CORE_TEXT_PRETOKENIZER_H_
#define LIBRA_CORE_TEXT_PRETOKENIZER_H_

#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

namespace libra::text {

enum class PreTokenizerRegex { kGpt2, kCl100k, kQwen2 };

// The regex source text as it appears in a tokenizer.json Split pre-tokenizer.
absl::string_view PreTokenizerRegexSource(PreTokenizerRegex regex);

// Recognises one of the supported regexes by its exact source text.
std::optional<PreTokenizerRegex> FindPreTokenizerRegex(absl::string_view source);

// Splits `text` into consecutive, non-empty pieces that concatenate to it.
std::vector<absl::string_view> PreTokenize(PreTokenizerRegex regex, absl::string_view text);

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_PRETOKENIZER_H_
