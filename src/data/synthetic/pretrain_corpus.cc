#include "src/data/synthetic/pretrain_corpus.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "src/data/split.h"
#include "src/data/synthetic/primitives.h"
#include "src/data/synthetic/rng.h"
#include "src/data/synthetic/tasks.h"

namespace libra::data::synthetic {

std::vector<FlanExample> GeneratePretrainCorpus(const PretrainOptions& options) {
  const std::vector<Family> families = Families();
  const std::vector<Operation> operations = Operations();
  Rng rng(StableHash("pretrain", options.seed));
  SplitOptions split;
  split.seed = options.seed;
  split.validation_fraction = options.validation_fraction;
  split.test_fraction = 0;

  std::vector<FlanExample> corpus;
  corpus.reserve(options.examples);
  for (int i = 0; i < options.examples; ++i) {
    const Family& family = rng.Pick(families);
    std::vector<const Operation*> own;
    std::vector<const Operation*> composable;
    for (const Operation& operation : operations) {
      if (operation.family != family.name) continue;
      own.push_back(&operation);
      if (operation.keeps_domain && operation.name != "copy") composable.push_back(&operation);
    }
    const Operation* inner = nullptr;
    const Operation* outer = rng.Pick(own);
    if (rng.Bernoulli(options.composition_fraction)) {
      inner = rng.Pick(composable);
      while (outer->name == "copy") outer = rng.Pick(own);
    }
    const Operation& first = inner != nullptr ? *inner : *outer;
    const Items input = first.sample(rng);
    Items output = first.apply(input);
    std::string codes = first.code;
    if (inner != nullptr) {
      output = outer->apply(output);
      absl::StrAppend(&codes, ".", outer->code);
    }
    FlanExample example;
    example.source = absl::StrCat(codes, "|", Join(input, family.separator), "=");
    example.target = Join(output, family.separator);
    example.task_name = absl::StrCat("pretrain/", family.name, "/", codes);
    example.split = std::string(AssignSplit(example, split));
    corpus.push_back(std::move(example));
  }
  return corpus;
}

}  // namespace libra::data::synthetic
