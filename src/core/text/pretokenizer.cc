#include "src/core/text/pretokenizer.h"

#include <cstdint>

#include "src/core/text/unicode_class.h"
#include "src/core/text/utf8.h"

namespace libra::text {
namespace {

constexpr absl::string_view kGpt2Source =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr absl::string_view kCl100kSource =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr absl::string_view kQwen2Source =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The text decoded once into code points with their byte offsets, so the
// matchers below can look ahead cheaply. cp(i) past the end is -2 ("none").
class Units {
 public:
  explicit Units(absl::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
      const Utf8Unit unit = DecodeUtf8(text, pos);
      codepoints_.push_back(unit.codepoint);
      offsets_.push_back(pos);
      pos += unit.length;
    }
    offsets_.push_back(text.size());
  }
  size_t size() const { return codepoints_.size(); }
  int32_t cp(size_t i) const { return i < codepoints_.size() ? codepoints_[i] : -2; }
  size_t offset(size_t i) const { return offsets_[i]; }

 private:
  std::vector<int32_t> codepoints_;
  std::vector<size_t> offsets_;
};

bool IsL(int32_t c) { return c != -2 && IsLetter(c); }
bool IsN(int32_t c) { return c != -2 && IsNumber(c); }
bool IsS(int32_t c) { return c != -2 && IsWhitespace(c); }
// [^\s\p{L}\p{N}]: anything else, including invalid bytes.
bool IsOther(int32_t c) { return c != -2 && !IsLetter(c) && !IsNumber(c) && !IsWhitespace(c); }
bool IsCrLf(int32_t c) { return c == '\r' || c == '\n'; }
int32_t Lower(int32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's 't 're 've 'm 'll 'd at i; returns the length in units or 0.
size_t MatchContraction(const Units& u, size_t i, bool ignore_case) {
  if (u.cp(i) != '\'') return 0;
  const auto at = [&](size_t k) { return ignore_case ? Lower(u.cp(k)) : u.cp(k); };
  const int32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  const int32_t b = at(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

template <typename Pred>
size_t RunEnd(const Units& u, size_t i, Pred pred) {
  while (i < u.size() && pred(u.cp(i))) ++i;
  return i;
}

// \s+(?!\S) then \s+ at i (u.cp(i) is whitespace): a whitespace run that is
// followed by a non-space gives its last unit to the next piece, unless the
// run is a single unit.
size_t MatchWhitespace(const Units& u, size_t i) {
  const size_t end = RunEnd(u, i, IsS);
  if (end == u.size() || end - i == 1) return end;
  return end - 1;
}

size_t NextGpt2(const Units& u, size_t i) {
  if (size_t n = MatchContraction(u, i, /*ignore_case=*/false)) return i + n;
  const size_t body = (u.cp(i) == ' ') ? i + 1 : i;  // the optional leading space
  const int32_t c = u.cp(body);
  if (IsL(c)) return RunEnd(u, body, IsL);
  if (IsN(c)) return RunEnd(u, body, IsN);
  if (IsOther(c)) return RunEnd(u, body, IsOther);
  return MatchWhitespace(u, i);
}

size_t NextCl100k(const Units& u, size_t i, size_t max_digits) {
  if (size_t n = MatchContraction(u, i, /*ignore_case=*/true)) return i + n;
  const int32_t c = u.cp(i);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (IsL(c)) return RunEnd(u, i, IsL);
  if (!IsCrLf(c) && !IsN(c) && IsL(u.cp(i + 1))) return RunEnd(u, i + 1, IsL);
  // \p{N}{1,max_digits}
  if (IsN(c)) {
    size_t end = i;
    while (end < u.size() && end - i < max_digits && IsN(u.cp(end))) ++end;
    return end;
  }
  // " ?[^\s\p{L}\p{N}]+[\r\n]*"
  const size_t body = (c == ' ') ? i + 1 : i;
  if (IsOther(u.cp(body))) {
    return RunEnd(u, RunEnd(u, body, IsOther), IsCrLf);
  }
  // \s*[\r\n]+ : the whitespace run up to and including its last line break.
  const size_t end = RunEnd(u, i, IsS);
  for (size_t k = end; k > i; --k) {
    if (IsCrLf(u.cp(k - 1))) return k;
  }
  return MatchWhitespace(u, i);
}

}  // namespace

absl::string_view PreTokenizerRegexSource(PreTokenizerRegex regex) {
  switch (regex) {
    case PreTokenizerRegex::kGpt2:
      return kGpt2Source;
    case PreTokenizerRegex::kCl100k:
      return kCl100kSource;
    case PreTokenizerRegex::kQwen2:
      return kQwen2Source;
  }
  return kGpt2Source;
}

std::optional<PreTokenizerRegex> FindPreTokenizerRegex(absl::string_view source) {
  // Some Llama-3 derived files spell the case-insensitive contractions out.
  constexpr absl::string_view kCl100kSpelledOut =
      R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (source == kCl100kSpelledOut) return PreTokenizerRegex::kCl100k;
  for (PreTokenizerRegex regex :
       {PreTokenizerRegex::kGpt2, PreTokenizerRegex::kCl100k, PreTokenizerRegex::kQwen2}) {
    if (source == PreTokenizerRegexSource(regex)) return regex;
  }
  return std::nullopt;
}

std::vector<absl::string_view> PreTokenize(PreTokenizerRegex regex, absl::string_view text) {
  const Units units(text);
  std::vector<absl::string_view> pieces;
  for (size_t i = 0; i < units.size();) {
    size_t next;
    switch (regex) {
      case PreTokenizerRegex::kGpt2:
        next = NextGpt2(units, i);
        break;
      case PreTokenizerRegex::kCl100k:
        next = NextCl100k(units, i, 3);
        break;
      default:
        next = NextCl100k(units, i, 1);
        break;
    }
    if (next <= i) next = i + 1;  // every alternative set covers any unit; stay safe
    pieces.push_back(text.substr(units.offset(i), units.offset(next) - units.offset(i)));
    i = next;
  }
  return pieces;
}

}  // namespace libra::text
