#include "src/core/text/byte_unicode.h"

#include "src/core/text/utf8.h"

namespace libra::text {
namespace {

constexpr bool IsPrintable(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

// Both directions as compile-time tables (immutable, so no global state).
struct Tables {
  int32_t codepoint_of_byte[256] = {};
  int16_t byte_of_codepoint[256 + 68] = {};
};

constexpr Tables MakeTables() {
  Tables tables;
  for (int i = 0; i < 256 + 68; ++i) tables.byte_of_codepoint[i] = -1;
  int32_t next = 256;  // non-printable bytes take 256, 257, ... in byte order
  for (int byte = 0; byte < 256; ++byte) {
    const int32_t codepoint = IsPrintable(byte) ? byte : next++;
    tables.codepoint_of_byte[byte] = codepoint;
    tables.byte_of_codepoint[codepoint] = static_cast<int16_t>(byte);
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

}  // namespace

int32_t ByteToCodepoint(uint8_t byte) { return kTables.codepoint_of_byte[byte]; }

int ByteFromCodepoint(int32_t codepoint) {
  if (codepoint < 0 || codepoint >= 256 + 68) return -1;
  return kTables.byte_of_codepoint[codepoint];
}

std::string BytesToUnicode(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(ByteToCodepoint(static_cast<uint8_t>(c)), &out);
  return out;
}

std::string UnicodeToBytes(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Unit unit = DecodeUtf8(text, pos);
    const int byte = ByteFromCodepoint(unit.codepoint);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(text.data() + pos, unit.length);
    }
    pos += unit.length;
  }
  return out;
}

}  // namespace libra::text
