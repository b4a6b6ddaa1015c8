#include "src/data/planning_tokens.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/data/gsm8k.h"

namespace libra::data {
namespace {

constexpr char kAnswerText[] = "The answer is:";

bool IsOperator(char c) { return c == '+' || c == '-' || c == '*' || c == '/'; }

void AppendOperators(absl::string_view text, std::vector<std::string>& types) {
  char previous = '\0';  // last non-space character
  for (char c : text) {
    if (c == ' ') continue;
    const bool sign = c == '-' && (previous == '\0' || previous == '=' || previous == '(' ||
                                   IsOperator(previous));
    if (IsOperator(c) && !sign) types.push_back(OperatorWord(c));
    previous = c;
  }
}

}  // namespace

std::string OperatorWord(char op) {
  switch (op) {
    case '+': return "plus";
    case '-': return "minus";
    case '*': return "times";
    case '/': return "divide";
    default: return "";
  }
}

std::vector<std::string> ArithmeticTypes(absl::string_view step) {
  std::vector<std::string> types;
  absl::StatusOr<std::vector<std::string>> annotations = CalculatorAnnotations(step);
  if (annotations.ok() && !annotations->empty()) {
    for (const std::string& annotation : *annotations) AppendOperators(annotation, types);
  } else {
    AppendOperators(step, types);
  }
  if (types.empty()) types.push_back("assignment");
  return types;
}

std::string PlanningToken(absl::string_view name, int index) {
  return absl::StrCat("<", name, "_", index, ">");
}

std::vector<std::string> PlanningVocabulary(const std::vector<std::string>& types,
                                            const PlanningOptions& options) {
  std::vector<std::string> tokens;
  for (int i = 0; i < options.n_prefix; ++i) tokens.push_back(PlanningToken("prefix", i));
  for (int i = 0; i < options.n_special; ++i) tokens.push_back(PlanningToken("answer", i));
  std::set<std::string> seen;
  for (const std::string& type : types) {
    if (!seen.insert(type).second) continue;
    for (int i = 0; i < options.n_special; ++i) tokens.push_back(PlanningToken(type, i));
  }
  return tokens;
}

std::string StepPlan(const std::vector<std::string>& types, const PlanningOptions& options) {
  std::string plan;
  for (int i = 0; i < options.n_prefix; ++i) absl::StrAppend(&plan, PlanningToken("prefix", i));
  for (const std::string& type : types) {
    for (int i = 0; i < options.n_special; ++i) absl::StrAppend(&plan, PlanningToken(type, i));
  }
  return plan;
}

std::string PlannedChain(const std::vector<std::string>& steps,
                         const std::vector<std::vector<std::string>>& step_types,
                         absl::string_view answer, const PlanningOptions& options) {
  std::string chain;
  for (size_t i = 0; i < steps.size(); ++i) {
    absl::StrAppend(&chain, StepPlan(step_types[i], options), steps[i], "\n");
  }
  return absl::StrCat(chain, StepPlan({"answer"}, options), kAnswerText, " ", answer);
}

std::string PlainChain(const std::vector<std::string>& steps, absl::string_view answer) {
  std::string chain;
  for (const std::string& step : steps) absl::StrAppend(&chain, step, "\n");
  return absl::StrCat(chain, kAnswerText, " ", answer);
}

std::optional<std::string> ExtractAnswer(absl::string_view text) {
  const size_t at = text.rfind(kAnswerText);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(text.substr(at + sizeof(kAnswerText) - 1));
  std::string number;
  for (size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c == '-' && i == 0) ||
        (c == '.' && i + 1 < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[i + 1])))) {
      number.push_back(c);
    } else if (c != ',') {
      break;
    }
  }
  if (!IsNumber(number)) return std::nullopt;
  return number;
}

bool SameAnswer(absl::string_view a, absl::string_view b) {
  double x = 0, y = 0;
  if (!absl::SimpleAtod(a, &x) || !absl::SimpleAtod(b, &y)) return false;
  return x == y;
}

}  // namespace libra::data
