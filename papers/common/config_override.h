// Strict overrides of an experiment's configuration from JSON (an
// environment variable such as $LIBRA_LAB_CONFIG, for exploration): a
// field not in the configuration, or a value not of the field's type (an
// integer field given 3.5 or 3.0, a list of names given a string), is an
// error naming the field; nothing is converted silently. The configuration
// maps to JSON and back with nlohmann's macros.
//
//   LIBRA_RETURN_IF_ERROR(OverrideConfig(config, nlohmann::json::parse(text), "lab config"));
//   LIBRA_RETURN_IF_ERROR(OverrideConfigFromEnvironment(config, "LIBRA_PLANNING_TOKENS_CONFIG"));
#ifndef LIBRA_PAPERS_COMMON_CONFIG_OVERRIDE_H_
#define LIBRA_PAPERS_COMMON_CONFIG_OVERRIDE_H_

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace libra::papers {

// Whether `o` may override `current` (the configuration's JSON): see above.
// `what` prefixes the messages ("lab config: unknown field \"x\"").
absl::Status CheckConfigOverride(const nlohmann::json& current, const nlohmann::json& o,
                                 absl::string_view what);
// Whether every value of `o` survived the round trip into `back` (an
// integer too large for its field would wrap).
absl::Status CheckConfigRoundTrip(const nlohmann::json& back, const nlohmann::json& o,
                                  absl::string_view what);

template <typename Config>
absl::Status OverrideConfig(Config& config, const nlohmann::json& o, absl::string_view what) {
  const nlohmann::json current = config;
  if (absl::Status s = CheckConfigOverride(current, o, what); !s.ok()) return s;
  nlohmann::json merged = current;
  merged.update(o);
  Config result;
  try {
    result = merged.get<Config>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
  if (absl::Status s = CheckConfigRoundTrip(result, o, what); !s.ok()) return s;
  config = std::move(result);
  return absl::OkStatus();
}

// $variable, when set and not empty, overrides `config`; errors start with
// its name.
template <typename Config>
absl::Status OverrideConfigFromEnvironment(Config& config, const char* variable) {
  const char* env = std::getenv(variable);
  if (env == nullptr || *env == '\0') return absl::OkStatus();
  const nlohmann::json o = nlohmann::json::parse(env, nullptr, /*allow_exceptions=*/false);
  return OverrideConfig(config, o, variable);
}

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_CONFIG_OVERRIDE_H_
