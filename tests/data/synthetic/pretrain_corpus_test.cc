#include "src/data/synthetic/pretrain_corpus.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/data/synthetic/tasks.h"

namespace libra::data::synthetic {
namespace {

// Filler: a capital, then lowercase consonant-vowel pairs ("Tami", "Bo").
bool IsFillerWord(const std::string& word) {
  if (word.size() < 2 || word.size() % 2 != 0 || word[0] < 'A' || word[0] > 'Z') return false;
  const std::string vowels = "aeiou";
  for (size_t i = 0; i < word.size(); ++i) {
    const bool vowel = vowels.find(word[i]) != std::string::npos;
    if (vowel != (i % 2 == 1)) return false;
  }
  return true;
}

TEST(PretrainCorpusTest, DeterministicAndSeeded) {
  PretrainOptions options;
  options.examples = 500;
  options.seed = 4;
  EXPECT_EQ(GeneratePretrainCorpus(options), GeneratePretrainCorpus(options));
  PretrainOptions other = options;
  other.seed = 5;
  EXPECT_NE(GeneratePretrainCorpus(options), GeneratePretrainCorpus(other));
}

TEST(PretrainCorpusTest, FormatHasNoInstructionsAndAnswersAreRight) {
  PretrainOptions options;
  options.examples = 3000;
  options.seed = 9;
  // Operation by (family, code), to re-apply the chain named in the source.
  std::map<std::pair<std::string, std::string>, Operation> by_code;
  for (const Operation& op : Operations()) by_code.emplace(std::make_pair(op.family, op.code), op);
  std::map<std::string, std::string> separator;
  for (const Family& family : Families()) separator[family.name] = family.separator;

  std::set<std::string> families_seen;
  std::set<std::string> codes_seen;
  int compositions = 0;
  int framed = 0;
  int validation = 0;
  for (const FlanExample& example : GeneratePretrainCorpus(options)) {
    // task_name is pretrain/<family>/<codes>
    ASSERT_EQ(example.task_name.rfind("pretrain/", 0), 0u) << example.task_name;
    const std::string rest = example.task_name.substr(9);
    const std::string family = rest.substr(0, rest.find('/'));
    const std::string codes = rest.substr(rest.find('/') + 1);
    families_seen.insert(family);
    // source is "<codes>|<input>=" or a framed layout of filler words, the
    // codes and the input; the input is what is neither filler nor codes.
    std::string input;
    if (example.source.back() == '=') {
      const size_t bar = example.source.find('|');
      ASSERT_NE(bar, std::string::npos) << example.source;
      EXPECT_EQ(example.source.substr(0, bar), codes);
      input = example.source.substr(bar + 1, example.source.size() - bar - 2);
    } else {
      ++framed;
      std::string text = example.source;
      for (char& c : text) {
        if (c == '\n') c = ' ';
      }
      const size_t colon = text.find(": ");
      if (colon != std::string::npos) text.replace(colon, 2, " ");
      std::vector<std::string> kept;
      int code_words = 0;
      for (const std::string& word : Words(text)) {
        if (word == codes) {
          ++code_words;
        } else if (!IsFillerWord(word)) {
          kept.push_back(word);
        }
      }
      EXPECT_EQ(code_words, 1) << example.source;
      input = Join(kept, separator[family]);
    }
    // No English: no word of any instruction appears in the source.
    for (const Task& task : AllTasks()) {
      for (const std::string& t : task.spec.templates) {
        for (const std::string& word : Words(t)) {
          if (word.size() > 3 && word.find("{x}") == std::string::npos &&
              std::all_of(word.begin(), word.end(), ::isalpha)) {
            EXPECT_EQ(example.source.find(word), std::string::npos) << example.source;
          }
        }
      }
    }
    Items value = separator[family].empty() ? Chars(input) : Words(input);
    size_t start = 0;
    int steps = 0;
    while (start <= codes.size()) {
      const size_t dot = codes.find('.', start);
      const std::string code = codes.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      auto it = by_code.find({family, code});
      ASSERT_NE(it, by_code.end()) << family << " " << code;
      codes_seen.insert(family + "/" + code);
      value = it->second.apply(value);
      ++steps;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    compositions += steps == 2;
    EXPECT_TRUE(steps == 1 || codes.substr(0, 2) != codes.substr(3, 2)) << codes;
    EXPECT_LE(steps, 2);
    EXPECT_EQ(example.target, Join(value, separator[family])) << example.source;
    EXPECT_TRUE(example.split == "train" || example.split == "validation") << example.split;
    validation += example.split == "validation";
    EXPECT_LE(example.source.size() + example.target.size(), 80u) << example.source;
  }
  EXPECT_EQ(families_seen.size(), 4u);
  // Every operation of every family appears.
  EXPECT_EQ(codes_seen.size(), Operations().size());
  EXPECT_NEAR(compositions / 3000.0, 0.3, 0.05);
  EXPECT_NEAR(framed / 3000.0, 0.5, 0.05);
  EXPECT_GT(validation, 20);
  EXPECT_LT(validation, 120);
}

TEST(PretrainCorpusTest, CoversEveryTaskOperationChainAsPrimitives) {
  // Every operation any task uses exists in the corpus's operation table for
  // that family, so the base model has seen each primitive the suite needs.
  std::set<std::pair<std::string, std::string>> known;
  for (const Operation& op : Operations()) known.insert({op.family, op.name});
  for (const Task& task : AllTasks()) {
    for (const std::string& name : task.spec.operations) {
      EXPECT_TRUE(known.count({task.spec.family, name})) << task.spec.name << " " << name;
    }
  }
}

}  // namespace
}  // namespace libra::data::synthetic
