#include "src/core/library/expert_name.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace libra {

absl::Status ValidateExpertName(absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid expert name \"", absl::CHexEscape(name),
                                                   "\": ", why));
  };
  if (name.empty()) return bad("empty");
  if (name.size() > kMaxExpertNameLength) {
    return bad(absl::StrCat("longer than ", kMaxExpertNameLength, " bytes"));
  }
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) return bad("only printable ASCII characters are allowed");
    if (c == '/' || c == '\\') return bad("contains a path separator");
  }
  if (absl::StrContains(name, "..")) return bad("contains \"..\"");
  if (name.front() == '.' || name.front() == '-') return bad("starts with '.' or '-'");
  if (name.front() == ' ' || name.back() == ' ') return bad("starts or ends with a space");
  return absl::OkStatus();
}

absl::Status ValidateRelativeFileName(absl::string_view file_name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("file name \"", absl::CHexEscape(file_name), "\" ", why));
  };
  if (file_name.empty()) return bad("is empty");
  if (file_name.front() == '/') return bad("is absolute");
  if (absl::StrContains(file_name, "\\")) return bad("contains a backslash");
  for (absl::string_view part : absl::StrSplit(file_name, '/')) {
    if (part.empty() || part == "." || part == "..") return bad("leaves the library folder");
  }
  for (char c : file_name) {
    if (c < 0x20 || c > 0x7e) return bad("has a non-printable character");
  }
  return absl::OkStatus();
}

}  // namespace libra
