#include "src/data/synthetic/pretrain_corpus.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "src/data/synthetic/tasks.h"

namespace libra::data::synthetic {
namespace {

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
  int validation = 0;
  for (const FlanExample& example : GeneratePretrainCorpus(options)) {
    // task_name is pretrain/<family>/<codes>
    ASSERT_EQ(example.task_name.rfind("pretrain/", 0), 0u) << example.task_name;
    const std::string rest = example.task_name.substr(9);
    const std::string family = rest.substr(0, rest.find('/'));
    const std::string codes = rest.substr(rest.find('/') + 1);
    families_seen.insert(family);
    // source is <codes>|<input>=
    const size_t bar = example.source.find('|');
    ASSERT_NE(bar, std::string::npos) << example.source;
    ASSERT_EQ(example.source.back(), '=') << example.source;
    EXPECT_EQ(example.source.substr(0, bar), codes);
    const std::string input = example.source.substr(bar + 1, example.source.size() - bar - 2);
    // No English: the source is codes, the input, and punctuation.
    for (const Task& task : AllTasks()) {
      for (const std::string& t : task.spec.templates) {
        const std::string first_word = t.substr(0, t.find(' '));
        if (first_word.size() > 3 && first_word != "{x}") {
          EXPECT_EQ(example.source.find(first_word), std::string::npos) << example.source;
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
    EXPECT_LE(steps, 2);
    EXPECT_EQ(example.target, Join(value, separator[family])) << example.source;
    EXPECT_TRUE(example.split == "train" || example.split == "validation") << example.split;
    validation += example.split == "validation";
    EXPECT_LE(example.source.size() + example.target.size(), 64u) << example.source;
  }
  EXPECT_EQ(families_seen.size(), 4u);
  // Every operation of every family appears.
  EXPECT_EQ(codes_seen.size(), Operations().size());
  EXPECT_NEAR(compositions / 3000.0, 0.3, 0.05);
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
