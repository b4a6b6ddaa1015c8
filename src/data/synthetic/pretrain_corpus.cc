#include "src/data/synthetic/pretrain_corpus.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/data/split.h"
#include "src/data/synthetic/primitives.h"
#include "src/data/synthetic/rng.h"
#include "src/data/synthetic/tasks.h"

namespace libra::data::synthetic {
namespace {

// A meaningless capitalised word of consonant-vowel syllables ("Tami", "Bo").
// Operation codes are consonant pairs, so filler never contains one, and the
// capital keeps it apart from every input domain.
// Words that occur in instructions (lowercased) are redrawn, so that filler
// never carries an instruction word ("Name").
std::string FillerWord(Rng& rng, const std::set<std::string>& instruction_words) {
  constexpr absl::string_view kConsonants = "bdfglmnprst";
  constexpr absl::string_view kVowels = "aeiou";
  while (true) {
    std::string word;
    const int syllables = rng.Uniform(1, 2);
    for (int i = 0; i < syllables; ++i) {
      word += rng.Pick(kConsonants);
      word += rng.Pick(kVowels);
    }
    if (instruction_words.count(word)) continue;
    word[0] = static_cast<char>(word[0] - 'a' + 'A');
    return word;
  }
}

std::set<std::string> InstructionWords() {
  std::set<std::string> words;
  for (const Task& task : AllTasks()) {
    for (const std::string& text : task.spec.templates) {
      std::string word;
      for (char c : text + " ") {
        if (absl::ascii_isalpha(static_cast<unsigned char>(c))) {
          word += absl::ascii_tolower(static_cast<unsigned char>(c));
        } else if (!word.empty()) {
          words.insert(word);
          word.clear();
        }
      }
    }
  }
  return words;
}

// 0-3 filler words.
std::vector<std::string> Filler(Rng& rng, const std::set<std::string>& instruction_words) {
  std::vector<std::string> words(rng.Uniform(0, 3));
  for (std::string& word : words) word = FillerWord(rng, instruction_words);
  return words;
}

// The words of `a`, then `middle`, then the words of `b`, joined by spaces.
std::string Sentence(const std::vector<std::string>& a, const std::string& middle,
                     const std::vector<std::string>& b) {
  std::vector<std::string> words = a;
  words.push_back(middle);
  words.insert(words.end(), b.begin(), b.end());
  return absl::StrJoin(words, " ");
}

// Puts the codes and the input in one of the layouts instructions use (input
// last, first or in the middle), with filler in place of words.
std::string FramedSource(Rng& rng, const std::set<std::string>& instruction_words,
                         const std::string& codes, const std::string& input) {
  const std::vector<std::string> before = Filler(rng, instruction_words);
  const std::vector<std::string> after = Filler(rng, instruction_words);
  switch (rng.Uniform(0, 2)) {
    case 0:
      return absl::StrCat(Sentence(before, codes, after), ": ", input);
    case 1:
      return absl::StrCat(input, "\n", Sentence(before, codes, after));
    default:
      return absl::StrCat(Sentence(before, input, after), " ", codes);
  }
}

}  // namespace

std::vector<FlanExample> GeneratePretrainCorpus(const PretrainOptions& options) {
  const std::vector<Family> families = Families();
  const std::vector<Operation> operations = Operations();
  const std::set<std::string> instruction_words = InstructionWords();
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
      // Copy or the same operation twice would add nothing to learn.
      while (outer->name == "copy" || outer == inner) outer = rng.Pick(own);
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
    const std::string input_text = Join(input, family.separator);
    example.source = rng.Bernoulli(options.framed_fraction)
                         ? FramedSource(rng, instruction_words, codes, input_text)
                         : absl::StrCat(codes, "|", input_text, "=");
    example.target = Join(output, family.separator);
    example.task_name = absl::StrCat("pretrain/", family.name, "/", codes);
    example.split = std::string(AssignSplit(example, split));
    corpus.push_back(std::move(example));
  }
  return corpus;
}

}  // namespace libra::data::synthetic
