#include "papers/common/config_override.h"

namespace libra::papers {

absl::Status CheckConfigOverride(const nlohmann::json& current, const nlohmann::json& o,
                                 absl::string_view what) {
  if (!o.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON object"));
  for (const auto& [key, value] : o.items()) {
    if (!current.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": unknown field \"", key, "\""));
    }
    // Exactly the field's type: an integer field takes no 3.5 (nor 3.0), a
    // list of names takes only strings; a real field takes any number.
    const nlohmann::json& want = current.at(key);
    bool ok = want.is_number_integer() ? value.is_number_integer()
              : want.is_number()       ? value.is_number()
                                       : value.type() == want.type();
    if (ok && want.is_array()) {
      for (const nlohmann::json& item : value) ok = ok && item.is_string();
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": field \"", key, "\" must be ",
                                                     want.is_array() ? "a list of strings"
                                                                     : want.type_name(),
                                                     ", got ", value.dump()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckConfigRoundTrip(const nlohmann::json& back, const nlohmann::json& o,
                                  absl::string_view what) {
  for (const auto& [key, value] : o.items()) {
    if (back.at(key) != value) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": field \"", key, "\" cannot hold ", value.dump()));
    }
  }
  return absl::OkStatus();
}

}  // namespace libra::papers
