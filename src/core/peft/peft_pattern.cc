#include "src/core/peft/peft_pattern.h"

#include <regex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra {

absl::StatusOr<bool> PeftPatternMatches(absl::string_view pattern, absl::string_view module,
                                        PeftPatternStyle style) {
  const std::string expression = style == PeftPatternStyle::kCurrent
                                     ? absl::StrCat("(.*\\.)?(", pattern, ")")
                                     : absl::StrCat(".*\\.", pattern);
  try {
    const std::regex regex(expression, std::regex::ECMAScript);
    return std::regex_match(module.begin(), module.end(), regex);
  } catch (const std::regex_error&) {
    return absl::InvalidArgumentError(absl::StrCat("pattern \"", pattern, "\" is not a valid regular expression"));
  }
}

absl::StatusOr<int> FirstMatchingPattern(const std::vector<std::string>& keys, absl::string_view module,
                                         PeftPatternStyle style) {
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<bool> matches = PeftPatternMatches(keys[i], module, style);
    if (!matches.ok()) return matches.status();
    if (*matches) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace libra
