#include "papers/common/expectations.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::papers {

using nlohmann::json;

namespace {

absl::Status FieldError(const std::string& source, const std::string& where,
                        const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, ": ", what));
}

// The field `key` of object `j`, required to be of `type`.
absl::StatusOr<const json*> Field(const json& j, const std::string& key, json::value_t type,
                                  const std::string& source, const std::string& where) {
  if (!j.contains(key)) return FieldError(source, where, absl::StrCat("missing \"", key, "\""));
  const json& v = j.at(key);
  const bool ok = v.type() == type ||
                  (type == json::value_t::number_float && v.is_number()) ||
                  (type == json::value_t::number_integer && v.is_number_integer());
  if (!ok) {
    return FieldError(source, where,
                      absl::StrCat("\"", key, "\" is ", v.type_name(), ", expected ",
                                   json(type).type_name()));
  }
  return &v;
}

std::string Num(double v) { return absl::StrFormat("%+.3f", v); }

}  // namespace

const ClaimExpectation* Expectations::Find(const std::string& id) const {
  for (const ClaimExpectation& c : claims) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

double ToleranceFor(double spread) { return std::max(spread, kMinTolerance); }

absl::StatusOr<Expectations> ExpectationsFromJson(const json& j, const std::string& source) {
  if (!j.is_object()) return FieldError(source, "top level", "expected an object");
  Expectations e;
  LIBRA_ASSIGN_OR_RETURN(const json* paper, Field(j, "paper", json::value_t::string, source, "top level"));
  LIBRA_ASSIGN_OR_RETURN(const json* scale, Field(j, "scale", json::value_t::string, source, "top level"));
  LIBRA_ASSIGN_OR_RETURN(const json* seeds, Field(j, "seeds", json::value_t::array, source, "top level"));
  LIBRA_ASSIGN_OR_RETURN(const json* config, Field(j, "config", json::value_t::object, source, "top level"));
  LIBRA_ASSIGN_OR_RETURN(const json* from, Field(j, "recorded_from", json::value_t::string, source, "top level"));
  LIBRA_ASSIGN_OR_RETURN(const json* claims, Field(j, "claims", json::value_t::array, source, "top level"));
  e.paper = paper->get<std::string>();
  e.scale = scale->get<std::string>();
  for (const json& s : *seeds) {
    if (!s.is_number_integer()) return FieldError(source, "seeds", "expected integers");
    e.seeds.push_back(s.get<int>());
  }
  e.config = *config;
  e.recorded_from = from->get<std::string>();
  std::set<std::string> ids;
  for (size_t i = 0; i < claims->size(); ++i) {
    const json& c = (*claims)[i];
    std::string where = absl::StrCat("claims[", i, "]");
    if (!c.is_object()) return FieldError(source, where, "expected an object");
    ClaimExpectation x;
    LIBRA_ASSIGN_OR_RETURN(const json* id, Field(c, "id", json::value_t::string, source, where));
    x.id = id->get<std::string>();
    where = absl::StrCat("claim \"", x.id, "\"");
    if (!ids.insert(x.id).second) return FieldError(source, where, "listed twice");
    LIBRA_ASSIGN_OR_RETURN(const json* verdict, Field(c, "verdict", json::value_t::string, source, where));
    absl::StatusOr<Verdict> v = ParseVerdict(verdict->get<std::string>());
    if (!v.ok()) return FieldError(source, where, std::string(v.status().message()));
    x.verdict = *v;
    LIBRA_ASSIGN_OR_RETURN(const json* diff, Field(c, "diff", json::value_t::number_float, source, where));
    LIBRA_ASSIGN_OR_RETURN(const json* tol, Field(c, "tolerance", json::value_t::number_float, source, where));
    x.diff = diff->get<double>();
    x.tolerance = tol->get<double>();
    if (!std::isfinite(x.diff) || !std::isfinite(x.tolerance) || x.tolerance <= 0) {
      return FieldError(source, where, "diff must be finite and tolerance positive");
    }
    if (c.contains("reason")) {
      LIBRA_ASSIGN_OR_RETURN(const json* reason, Field(c, "reason", json::value_t::string, source, where));
      x.reason = reason->get<std::string>();
    }
    e.claims.push_back(std::move(x));
  }
  return e;
}

absl::StatusOr<Expectations> ReadExpectations(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  return ExpectationsFromJson(j, path);
}

json ExpectationsToJson(const Expectations& e) {
  json claims = json::array();
  for (const ClaimExpectation& c : e.claims) {
    json x{{"id", c.id}, {"verdict", VerdictName(c.verdict)}, {"diff", c.diff},
           {"tolerance", c.tolerance}};
    if (c.known_failure() || !c.reason.empty()) x["reason"] = c.reason;
    claims.push_back(std::move(x));
  }
  return json{{"paper", e.paper},   {"scale", e.scale},
              {"seeds", e.seeds},   {"config", e.config},
              {"recorded_from", e.recorded_from}, {"claims", claims}};
}

absl::StatusOr<Expectations> RecordExpectations(const json& results, const Expectations* previous) {
  if (!results.is_object() || !results.contains("claims") || !results["claims"].is_array()) {
    return absl::InvalidArgumentError("results.json has no \"claims\" list");
  }
  Expectations e;
  e.paper = results.value("paper", "");
  e.scale = results.value("scale", "");
  e.seeds = results.value("seeds", std::vector<int>{});
  e.config = results.value("config", json::object());
  e.recorded_from = results.value("code_version", "unknown");
  for (const json& c : results["claims"]) {
    if (!c.is_object() || !c.contains("id") || !c.contains("verdict") || !c.contains("diff_mean") ||
        !c.contains("spread")) {
      return absl::InvalidArgumentError(
          absl::StrCat("results.json: a claim lacks id, verdict, diff_mean or spread: ", c.dump()));
    }
    ClaimExpectation x;
    x.id = c["id"].get<std::string>();
    LIBRA_ASSIGN_OR_RETURN(x.verdict, ParseVerdict(c["verdict"].get<std::string>()));
    x.diff = c["diff_mean"].get<double>();
    x.tolerance = ToleranceFor(c["spread"].get<double>());
    if (previous != nullptr) {
      if (const ClaimExpectation* old = previous->Find(x.id)) x.reason = old->reason;
    }
    e.claims.push_back(std::move(x));
  }
  return e;
}

bool ExpectationsApply(const Expectations& e, const json& results, std::string* why) {
  std::vector<std::string> differ;
  if (results.value("paper", "") != e.paper) differ.push_back("paper");
  if (results.value("scale", "") != e.scale) differ.push_back("scale");
  if (results.value("seeds", std::vector<int>{}) != e.seeds) differ.push_back("seeds");
  if (results.value("config", json::object()) != e.config) differ.push_back("config");
  if (why != nullptr) *why = absl::StrJoin(differ, ", ");
  return differ.empty();
}

void AttachExpectations(const Expectations& e, json& results) {
  std::string why;
  if (!ExpectationsApply(e, results, &why)) {
    results["notes"].push_back(absl::StrCat(
        "The claims test's expectations (recorded at ", e.recorded_from, ") are for another run (",
        why, " differ): every claim here is judged afresh."));
    return;
  }
  for (json& c : results["claims"]) {
    const ClaimExpectation* x = e.Find(c.value("id", ""));
    if (x == nullptr) continue;
    c["known_failure"] = x->known_failure();
    c["expected"] = json{{"verdict", VerdictName(x->verdict)}, {"diff", x->diff},
                         {"tolerance", x->tolerance}, {"recorded_from", e.recorded_from}};
    if (x->known_failure()) c["expected"]["reason"] = x->reason;
  }
}

std::vector<std::string> CheckExpectations(const json& results, const Expectations& e) {
  std::vector<std::string> problems;
  std::string why;
  if (!ExpectationsApply(e, results, &why)) {
    return {absl::StrCat("the expectations were recorded for another run (", why,
                         " differ): re-record them (papers/common/expectations.h)")};
  }
  std::set<std::string> seen;
  for (const json& c : results.value("claims", json::array())) {
    const std::string id = c.value("id", "?");
    seen.insert(id);
    const ClaimExpectation* x = e.Find(id);
    if (x == nullptr) {
      problems.push_back(absl::StrCat("claim \"", id, "\" has no recorded expectation: record it"));
      continue;
    }
    const std::string verdict = c.value("verdict", "?");
    const double diff = c.value("diff_mean", 0.0);
    const std::string numbers =
        absl::StrCat("A − B ", Num(diff), ", recorded ", Num(x->diff), " ± ",
                     absl::StrFormat("%.3f", x->tolerance), " at ", e.recorded_from);
    if (verdict != VerdictName(x->verdict)) {
      if (verdict == "reproduced") {
        problems.push_back(absl::StrCat("claim \"", id, "\" is a known failure (",
                                        VerdictName(x->verdict), ") but now reproduces (", numbers,
                                        "): remove the known-failure mark (re-record)"));
      } else {
        problems.push_back(absl::StrCat("claim \"", id, "\": ", verdict, ", recorded ",
                                        VerdictName(x->verdict), " (", numbers, ")"));
      }
    } else if (std::fabs(diff - x->diff) > x->tolerance) {
      problems.push_back(absl::StrCat("claim \"", id, "\": A − B moved by ", Num(diff - x->diff),
                                      ", beyond its tolerance (", numbers, ")"));
    }
    if (x->known_failure() && x->reason.empty()) {
      problems.push_back(absl::StrCat("claim \"", id, "\" is a known failure without a reason: "
                                      "write the diagnosis into the expectations file"));
    }
  }
  for (const ClaimExpectation& x : e.claims) {
    if (!seen.count(x.id)) {
      problems.push_back(absl::StrCat("expected claim \"", x.id, "\" is not in the run"));
    }
  }
  return problems;
}

}  // namespace libra::papers
