#include "src/core/text/utf8.h"

namespace libra::text {

Utf8Unit DecodeUtf8(absl::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {lead, 1};
  size_t length;
  int32_t codepoint;
  int32_t min_value;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, codepoint = lead & 0x1F, min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, codepoint = lead & 0x0F, min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, codepoint = lead & 0x07, min_value = 0x10000;
  } else {
    return {};
  }
  if (pos + length > text.size()) return {};
  for (size_t i = 1; i < length; ++i) {
    const uint8_t next = byte(pos + i);
    if ((next & 0xC0) != 0x80) return {};
    codepoint = (codepoint << 6) | (next & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
  if (codepoint < min_value || codepoint > 0x10FFFF ||
      (codepoint >= 0xD800 && codepoint <= 0xDFFF)) {
    return {};
  }
  return {codepoint, length};
}

void AppendUtf8(int32_t codepoint, std::string* out) {
  const auto put = [out](int value) { out->push_back(static_cast<char>(value)); };
  if (codepoint < 0x80) {
    put(codepoint);
  } else if (codepoint < 0x800) {
    put(0xC0 | (codepoint >> 6));
    put(0x80 | (codepoint & 0x3F));
  } else if (codepoint < 0x10000) {
    put(0xE0 | (codepoint >> 12));
    put(0x80 | ((codepoint >> 6) & 0x3F));
    put(0x80 | (codepoint & 0x3F));
  } else {
    put(0xF0 | (codepoint >> 18));
    put(0x80 | ((codepoint >> 12) & 0x3F));
    put(0x80 | ((codepoint >> 6) & 0x3F));
    put(0x80 | (codepoint & 0x3F));
  }
}

std::vector<absl::string_view> SplitUtf8(absl::string_view text) {
  std::vector<absl::string_view> units;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = DecodeUtf8(text, pos).length;
    units.push_back(text.substr(pos, length));
    pos += length;
  }
  return units;
}

bool IsValidUtf8(absl::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Unit unit = DecodeUtf8(text, pos);
    if (unit.codepoint == kInvalidCodepoint) return false;
    pos += unit.length;
  }
  return true;
}

std::string ReplaceInvalidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Unit unit = DecodeUtf8(text, pos);
    if (unit.codepoint == kInvalidCodepoint) {
      AppendUtf8(0xFFFD, &out);
    } else {
      out.append(text.data() + pos, unit.length);
    }
    pos += unit.length;
  }
  return out;
}

}  // namespace libra::text
