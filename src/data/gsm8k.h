// GSM8K-format JSONL: math word problems with a step-by-step solution.
//
// A line is a JSON object with string "question" and "answer". The answer's
// lines are the reasoning chain, with optional calculator annotations
// ("48/2 = <<48/2=24>>24"), and its last part is "#### N", N the final
// numeric answer. Optional fields: "split" ("train", "validation", "test";
// absent: ""), "chain_length" (a non-negative integer, written by the
// synthetic generator; absent: the number of steps). Other fields are
// ignored. A bad line stops reading with one error naming file and line:
//   data/test.jsonl:7: answer has no "#### N" final answer
//   data/test.jsonl:9: unbalanced "<<" in the answer
//   data/test.jsonl:4: final answer "seventy" is not a number
//
// Steps are segmented as the planning-tokens authors do: the chain before
// "####" is split on newlines and on ". ", blank pieces dropped, and each
// step ends with a period.
//
//   LIBRA_ASSIGN_OR_RETURN(std::vector<Gsm8kExample> examples, ReadGsm8kJsonl(path));
//   examples[0].steps[0];   // "Natalia sold 48/2 = <<48/2=24>>24 clips in May."
//   examples[0].answer;     // "72"
#ifndef LIBRA_DATA_GSM8K_H_
#define LIBRA_DATA_GSM8K_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra::data {

struct Gsm8kExample {
  std::string question;
  std::vector<std::string> steps;  // segmented, each ending with '.'
  std::string answer;              // the number after "####", commas removed
  int chain_length = 0;
  std::string split;
};

// The chain (the answer before "####") split into steps, as described above.
std::vector<std::string> SplitSteps(absl::string_view chain);

// The contents of every "<<...>>" in `text`, in order ("48/2=24").
// Unbalanced or nested brackets are an error.
absl::StatusOr<std::vector<std::string>> CalculatorAnnotations(absl::string_view text);

// `text` without its "<<...>>" annotations (assumed balanced).
std::string StripAnnotations(absl::string_view text);

// Whether `text` is a number: optional '-', digits, at most one '.', with
// at least one digit.
bool IsNumber(absl::string_view text);

// Parses one line; `where` ("file:line") prefixes error messages.
absl::StatusOr<Gsm8kExample> ParseGsm8kLine(absl::string_view line, absl::string_view where);

// Every non-blank line of `path`; with `split`, only that split's examples.
absl::StatusOr<std::vector<Gsm8kExample>> ReadGsm8kJsonl(const std::string& path,
                                                         std::optional<std::string> split = {});

// One JSONL line (no newline) that ParseGsm8kLine reads back as `example`:
// the steps joined by newlines, then "#### answer".
std::string Gsm8kLine(const Gsm8kExample& example);

}  // namespace libra::data

#endif  // LIBRA_DATA_GSM8K_H_
