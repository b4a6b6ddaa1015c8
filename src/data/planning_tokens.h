// Planning tokens (Wang et al., COLM 2024), the text side: arithmetic step
// types and the insertion of planning tokens into a reasoning chain.
//
// Insertion. Before each step: n_prefix general tokens <prefix_0>.. then,
// for each of the step's inferred types, n_special tokens <TYPE_0>..; the
// answer line gets the prefix, n_special tokens <answer_0>.. and the text
// "The answer is: N". The whole chain (planning tokens included) is the
// training target, the question the masked prompt; at test time the prompt
// ends with the first step's prefix tokens and the model writes the types.
// n_special = 0 is the "General" control: untyped tokens only. Add the
// tokens to a tokenizer as non-special (Tokenizer::AddTokens(.., false)):
// those are recognised in any text, targets included.
//
//   PlanningOptions options{/*n_prefix=*/1, /*n_special=*/1};
//   ArithmeticTypes("48/2 = <<48/2=24>>24 clips.");        // {"divide"}
//   PlannedChain({"3+4=7."}, {{"plus"}}, "7", options);
//   // "<prefix_0><plus_0>3+4=7.\n<prefix_0><answer_0>The answer is: 7"
#ifndef LIBRA_DATA_PLANNING_TOKENS_H_
#define LIBRA_DATA_PLANNING_TOKENS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace libra::data {

struct PlanningOptions {
  int n_prefix = 1;
  int n_special = 1;
};

// The arithmetic types of a step: every + - * / inside its "<<...>>"
// annotations, or in the step text when it has none, in order and with
// duplicates ("<<2*3*4=24>>" -> {"times", "times"}); {"assignment"} when
// there is no operator. A '-' that starts a number (after '=', '(' or
// another operator, or at the start) is a sign, not an operator.
std::vector<std::string> ArithmeticTypes(absl::string_view step);

// The operator word of an arithmetic type ('+' -> "plus"; the rest: "minus",
// "times", "divide"), or "" for another character.
std::string OperatorWord(char op);

// "<name_index>".
std::string PlanningToken(absl::string_view name, int index);

// Every planning token the options need for `types` (each type once), in a
// fixed order: prefixes, answer tokens, then the types' tokens.
std::vector<std::string> PlanningVocabulary(const std::vector<std::string>& types,
                                            const PlanningOptions& options);

// The planning tokens that open a step: the prefixes, then each type's.
std::string StepPlan(const std::vector<std::string>& types, const PlanningOptions& options);

// The target of planning-token training (see above): steps[i] preceded by
// StepPlan(step_types[i]), one per line, then the answer line.
std::string PlannedChain(const std::vector<std::string>& steps,
                         const std::vector<std::vector<std::string>>& step_types,
                         absl::string_view answer, const PlanningOptions& options);

// Plain chain-of-thought target: the steps, one per line, then
// "The answer is: N".
std::string PlainChain(const std::vector<std::string>& steps, absl::string_view answer);

// The number after the last "The answer is:" in `text` (commas removed), or
// nullopt when there is none.
std::optional<std::string> ExtractAnswer(absl::string_view text);

// Whether two answers are the same number ("72" and "72.0"; "-3" and "-3").
bool SameAnswer(absl::string_view a, absl::string_view b);

}  // namespace libra::data

#endif  // LIBRA_DATA_PLANNING_TOKENS_H_
