// Synthetic multi-step arithmetic word problems in GSM8K format (gsm8k.h),
// so one reader serves them and GSM8K itself.
//
// A problem starts from a count ("Ana has 12 coins.") and applies a chain of
// 1..8 operations (+ - * /), one sentence each, every intermediate a
// non-negative integer (a division always divides exactly; products stay at
// most max_value). Each operation has several phrasings; a held-out set of
// phrasings appears only in the test split, so test measures reading an
// operation written in a way training never showed. The solution has one
// step per operation ("12+5=17."), optionally with calculator annotations
// ("12+5=<<12+5=17>>17."), then "#### N". Chain length is recorded.
//
//   ArithmeticChainOptions options;
//   options.seed = 1;
//   std::vector<Gsm8kExample> train = ArithmeticChains(options, "train", 1000);
#ifndef LIBRA_DATA_SYNTHETIC_ARITHMETIC_CHAINS_H_
#define LIBRA_DATA_SYNTHETIC_ARITHMETIC_CHAINS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/data/gsm8k.h"

namespace libra::data::synthetic {

struct ArithmeticChainOptions {
  uint64_t seed = 1;
  int min_steps = 1;
  int max_steps = 8;
  int max_value = 200;  // every intermediate lies in [0, max_value]
  int max_start = 20;
  int max_operand = 9;  // + and - operands in [1, max_operand]; * and / in [2, 5]
  bool calculator_annotations = false;
  // In the test split, the chance that a step's sentence uses a held-out
  // phrasing (train and validation never do).
  double test_heldout_phrasing = 0.5;
};

// `count` problems of `split` ("train", "validation" or "test"). A problem
// (its start, operators and operands, whatever the phrasing) belongs to one
// split only, by a hash of its content: test and validation never repeat a
// train problem. Problems may repeat within a split when the space is small
// (one-step chains). `split` "all" draws from the whole space with training
// phrasings: a base model's pretraining, which may know every single fact
// as a pretrained language model does, while the chains built from them
// stay split.
std::vector<Gsm8kExample> ArithmeticChains(const ArithmeticChainOptions& options,
                                           const std::string& split, int count);

// The operator ('+', '-', '*', '/') of each step of a generated example, in
// order, recovered from the steps' text ("12+5=17." -> '+').
std::vector<char> ChainOperators(const Gsm8kExample& example);

// The number of phrasings of `op` (train, held-out): for tests and docs.
int TrainPhrasings(char op);
int HeldOutPhrasings(char op);

}  // namespace libra::data::synthetic

#endif  // LIBRA_DATA_SYNTHETIC_ARITHMETIC_CHAINS_H_
