// PEFT's rank_pattern / alpha_pattern matching, for import and export.
//
// PEFT (peft/utils/other.py, get_pattern_key) tries the pattern keys in
// their order in adapter_config.json and takes the first key K for which
// re.match(rf"(.*\.)?({K})$", module) succeeds: K is a regex matched
// against the whole module name or a dot-separated suffix of it. PEFT
// releases before that used rf".*\.{K}$", which needs a dot before K.
//
//   PeftPatternMatches("layers.0.self_attn.q_proj", "model.layers.0.self_attn.q_proj",
//                      PeftPatternStyle::kCurrent)  // true
#ifndef LIBRA_CORE_PEFT_PEFT_PATTERN_H_
#define LIBRA_CORE_PEFT_PEFT_PATTERN_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra {

enum class PeftPatternStyle {
  kCurrent,  // (.*\.)?(K)$
  kLegacy,   // .*\.K$
};

// Error if `pattern` is not a valid regular expression.
absl::StatusOr<bool> PeftPatternMatches(absl::string_view pattern, absl::string_view module,
                                        PeftPatternStyle style = PeftPatternStyle::kCurrent);

// Index of the first key in `keys` that matches `module`, or -1.
absl::StatusOr<int> FirstMatchingPattern(const std::vector<std::string>& keys, absl::string_view module,
                                         PeftPatternStyle style = PeftPatternStyle::kCurrent);

}  // namespace libra

#endif  // LIBRA_CORE_PEFT_PEFT_PATTERN_H_
