#include "src/data/synthetic/arithmetic_chains.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "src/data/stable_hash.h"
#include "src/data/synthetic/rng.h"

namespace libra::data::synthetic {
namespace {

constexpr std::array<char, 4> kOperators = {'+', '-', '*', '/'};

struct Phrasings {
  std::vector<const char*> train, held_out;
};

// "{P}" is the subject's pronoun, "{A}" the operand.
const Phrasings& PhrasingsOf(char op) {
  static const Phrasings plus{{"{P} gets {A} more.", "{P} buys {A} more.", "{A} more are added."},
                              {"{P} finds {A} more."}};
  static const Phrasings minus{{"{P} gives away {A}.", "{P} loses {A}.", "{A} are taken away."},
                               {"{P} sells {A}."}};
  static const Phrasings times{
      {"{P} gets {A} times as many.", "The amount is multiplied by {A}.", "It grows {A}-fold."},
      {"{P} ends up with {A} times as many."}};
  static const Phrasings divide{
      {"{P} splits them into {A} equal parts and keeps one.", "The amount is divided by {A}.",
       "{P} keeps one in every {A}."},
      {"{P} shares them equally among {A} and keeps one share."}};
  switch (op) {
    case '+': return plus;
    case '-': return minus;
    case '*': return times;
    default: return divide;
  }
}

struct Person {
  const char* name;
  const char* pronoun;
};
constexpr std::array<Person, 6> kPeople = {{{"Ana", "She"}, {"Ben", "He"}, {"Cleo", "She"},
                                            {"Dev", "He"}, {"Eva", "She"}, {"Finn", "He"}}};
constexpr std::array<const char*, 6> kItems = {"coins", "apples", "cards",
                                               "shells", "stamps", "beads"};

struct Operation {
  char op;
  int operand;
  int result;
};

// One operation valid from `value`, or none if `op` cannot apply.
bool TryOperation(char op, int value, const ArithmeticChainOptions& o, Rng& rng, Operation& out) {
  out.op = op;
  switch (op) {
    case '+':
      out.operand = rng.Uniform(1, o.max_operand);
      out.result = value + out.operand;
      return out.result <= o.max_value;
    case '-':
      if (value < 1) return false;
      out.operand = rng.Uniform(1, std::min(value, o.max_operand));
      out.result = value - out.operand;
      return true;
    case '*':
      out.operand = rng.Uniform(2, 5);
      out.result = value * out.operand;
      return out.result <= o.max_value;
    default: {
      std::vector<int> divisors;
      for (int d = 2; d <= 5; ++d) {
        if (value > 0 && value % d == 0) divisors.push_back(d);
      }
      if (divisors.empty()) return false;
      out.operand = rng.Pick(divisors);
      out.result = value / out.operand;
      return true;
    }
  }
}

std::vector<Operation> DrawChain(int start, int steps, const ArithmeticChainOptions& o, Rng& rng) {
  std::vector<Operation> chain;
  int value = start;
  while (static_cast<int>(chain.size()) < steps) {
    Operation operation;
    if (!TryOperation(rng.Pick(kOperators), value, o, rng, operation)) continue;
    chain.push_back(operation);
    value = operation.result;
  }
  return chain;
}

int SplitBucket(int start, const std::vector<Operation>& chain, uint64_t seed) {
  std::string content = absl::StrCat(start);
  for (const Operation& op : chain) absl::StrAppend(&content, "|", std::string(1, op.op), op.operand);
  const uint64_t bucket = StableHash(content, seed) % 20;
  return bucket < 16 ? 0 : bucket < 18 ? 1 : 2;  // train, validation, test
}

std::string StepText(int before, const Operation& op, bool annotate) {
  const std::string expression = absl::StrCat(before, std::string(1, op.op), op.operand);
  if (annotate) return absl::StrCat(expression, "=<<", expression, "=", op.result, ">>", op.result, ".");
  return absl::StrCat(expression, "=", op.result, ".");
}

Gsm8kExample WriteProblem(int start, const std::vector<Operation>& chain, bool test,
                          const ArithmeticChainOptions& o, Rng& rng) {
  const Person& person = rng.Pick(kPeople);
  const char* item = rng.Pick(kItems);
  Gsm8kExample example;
  example.question = absl::StrCat(person.name, " has ", start, " ", item, ".");
  int value = start;
  for (const Operation& op : chain) {
    const Phrasings& phrasings = PhrasingsOf(op.op);
    const bool held_out = test && rng.Bernoulli(o.test_heldout_phrasing);
    const char* pattern = held_out ? rng.Pick(phrasings.held_out) : rng.Pick(phrasings.train);
    absl::StrAppend(&example.question, " ",
                    absl::StrReplaceAll(pattern, {{"{P}", person.pronoun},
                                                  {"{A}", absl::StrCat(op.operand)}}));
    example.steps.push_back(StepText(value, op, o.calculator_annotations));
    value = op.result;
  }
  absl::StrAppend(&example.question, " How many ", item, " does ", person.name, " have now?");
  example.answer = absl::StrCat(value);
  example.chain_length = static_cast<int>(chain.size());
  return example;
}

}  // namespace

std::vector<Gsm8kExample> ArithmeticChains(const ArithmeticChainOptions& options,
                                           const std::string& split, int count) {
  // -1: any bucket ("all").
  const int wanted = split == "all" ? -1 : split == "train" ? 0 : split == "validation" ? 1 : 2;
  Rng rng(StableHash(absl::StrCat("arithmetic_chains/", split), options.seed));
  std::vector<Gsm8kExample> examples;
  while (static_cast<int>(examples.size()) < count) {
    const int steps = rng.Uniform(options.min_steps, options.max_steps);
    const int start = rng.Uniform(2, options.max_start);
    std::vector<Operation> chain = DrawChain(start, steps, options, rng);
    if (wanted >= 0 && SplitBucket(start, chain, options.seed) != wanted) continue;
    examples.push_back(WriteProblem(start, chain, wanted == 2, options, rng));
    examples.back().split = split;
  }
  return examples;
}

std::vector<char> ChainOperators(const Gsm8kExample& example) {
  std::vector<char> operators;
  for (const std::string& step : example.steps) {
    for (char c : step) {
      if (c == '+' || c == '-' || c == '*' || c == '/') {
        operators.push_back(c);
        break;
      }
    }
  }
  return operators;
}

int TrainPhrasings(char op) { return static_cast<int>(PhrasingsOf(op).train.size()); }
int HeldOutPhrasings(char op) { return static_cast<int>(PhrasingsOf(op).held_out.size()); }

}  // namespace libra::data::synthetic
