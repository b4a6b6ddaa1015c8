#include "src/data/synthetic/tasks.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/data/synthetic/suite.h"

namespace libra::data::synthetic {
namespace {

// ---- An independent reference: every task's answer written plainly on the
// input text, without the primitives library.

std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? " " : "") + words[i];
  return out;
}

std::string Rev(std::string s) { return std::string(s.rbegin(), s.rend()); }
std::string NextLetter(std::string s, int step) {
  for (char& c : s) c = static_cast<char>('A' + ((c - 'A' + step) % 26 + 26) % 26);
  return s;
}
std::string FirstOccurrences(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (out.find(c) == std::string::npos) out += c;
  }
  return out;
}
int CountOf(const std::string& s, const std::string& chars) {
  int n = 0;
  for (char c : s) n += chars.find(c) != std::string::npos;
  return n;
}
std::string Mirror(std::string s) {
  const std::string pairs = "()[]{}<>";
  for (char& c : s) c = pairs[pairs.find(c) ^ 1];
  return s;
}
bool IsBalancedText(const std::string& s) {
  const std::string pairs = "()[]{}<>";
  std::vector<char> stack;
  for (char c : s) {
    const size_t i = pairs.find(c);
    if (i % 2 == 0) {
      stack.push_back(pairs[i + 1]);
    } else if (stack.empty() || stack.back() != c) {
      return false;
    } else {
      stack.pop_back();
    }
  }
  return stack.empty();
}
std::string Initials(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += w[0];
  return out;
}
std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const std::map<std::string, std::function<std::string(const std::string&)>>& Reference() {
  static const auto* const kReference =
      new std::map<std::string, std::function<std::string(const std::string&)>>{
          {"letters_reverse", [](const std::string& x) { return Rev(x); }},
          {"letters_sort",
           [](std::string x) {
             std::sort(x.begin(), x.end());
             return x;
           }},
          {"letters_shift", [](const std::string& x) { return NextLetter(x, 1); }},
          {"letters_dedupe", FirstOccurrences},
          {"letters_every_second",
           [](const std::string& x) {
             std::string out;
             for (size_t i = 1; i < x.size(); i += 2) out += x[i];
             return out;
           }},
          {"letters_rotate", [](const std::string& x) { return x.substr(1) + x[0]; }},
          {"letters_reverse_shift", [](const std::string& x) { return NextLetter(Rev(x), 1); }},
          {"letters_sort_desc",
           [](std::string x) {
             std::sort(x.begin(), x.end(), std::greater<char>());
             return x;
           }},
          {"letters_shift_back", [](const std::string& x) { return NextLetter(x, -1); }},
          {"digits_sum",
           [](const std::string& x) {
             int sum = 0;
             for (char c : x) sum += c - '0';
             return std::to_string(sum);
           }},
          {"digits_increment",
           [](std::string x) {
             for (char& c : x) c = c == '9' ? '0' : c + 1;
             return x;
           }},
          {"digits_sort",
           [](std::string x) {
             std::sort(x.begin(), x.end());
             return x;
           }},
          {"digits_max", [](const std::string& x) { return std::string(1, *std::max_element(x.begin(), x.end())); }},
          {"digits_min", [](const std::string& x) { return std::string(1, *std::min_element(x.begin(), x.end())); }},
          {"digits_count_odd", [](const std::string& x) { return std::to_string(CountOf(x, "13579")); }},
          {"digits_count_even", [](const std::string& x) { return std::to_string(CountOf(x, "02468")); }},
          {"digits_reverse", [](const std::string& x) { return Rev(x); }},
          {"digits_increment_reverse",
           [](std::string x) {
             for (char& c : x) c = c == '9' ? '0' : c + 1;
             return Rev(x);
           }},
          {"words_initials", [](const std::string& x) { return Initials(SplitWords(x)); }},
          {"words_reverse",
           [](const std::string& x) {
             auto w = SplitWords(x);
             std::reverse(w.begin(), w.end());
             return JoinWords(w);
           }},
          {"words_sort",
           [](const std::string& x) {
             auto w = SplitWords(x);
             std::sort(w.begin(), w.end());
             return JoinWords(w);
           }},
          {"words_upper", [](const std::string& x) { return Upper(x); }},
          {"words_last_letters",
           [](const std::string& x) {
             std::string out;
             for (const std::string& w : SplitWords(x)) out += w.back();
             return out;
           }},
          {"words_count", [](const std::string& x) { return std::to_string(SplitWords(x).size()); }},
          {"words_initials_reverse", [](const std::string& x) { return Rev(Initials(SplitWords(x))); }},
          {"words_upper_initials", [](const std::string& x) { return Upper(Initials(SplitWords(x))); }},
          {"words_sort_initials",
           [](const std::string& x) {
             auto w = SplitWords(x);
             std::sort(w.begin(), w.end());
             return Initials(w);
           }},
          {"brackets_reverse", [](const std::string& x) { return Rev(x); }},
          {"brackets_mirror", Mirror},
          {"brackets_count_open", [](const std::string& x) { return std::to_string(CountOf(x, "([{<")); }},
          {"brackets_count_close", [](const std::string& x) { return std::to_string(CountOf(x, ")]}>")); }},
          {"brackets_balanced",
           [](const std::string& x) { return std::string(IsBalancedText(x) ? "yes" : "no"); }},
          {"brackets_close", [](const std::string& x) { return Mirror(Rev(x)); }},
          {"brackets_dedupe", FirstOccurrences},
          {"brackets_reverse_mirror", [](const std::string& x) { return Mirror(Rev(x)); }},
          {"brackets_open_only",
           [](const std::string& x) {
             std::string out;
             for (char c : x) {
               if (std::string("([{<").find(c) != std::string::npos) out += c;
             }
             return out;
           }},
      };
  return *kReference;
}

// The characters each family's inputs may use.
bool InDomain(const std::string& family, const std::string& input) {
  const std::map<std::string, std::string> alphabets = {
      {"letters", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
      {"digits", "0123456789"},
      {"words", "abcdefghijklmnopqrstuvwxyz "},
      {"brackets", "()[]{}<>"}};
  return !input.empty() && input.find_first_not_of(alphabets.at(family)) == std::string::npos;
}

// Recovers the input from a source by matching the task's templates (the
// longest matching prefix + suffix wins).
std::string InputOf(const Task& task, const std::string& source) {
  std::string best;
  size_t best_fixed = 0;
  bool found = false;
  for (const std::string& t : task.spec.templates) {
    const size_t hole = t.find("{x}");
    const std::string prefix = t.substr(0, hole), suffix = t.substr(hole + 3);
    if (source.size() < prefix.size() + suffix.size()) continue;
    if (source.compare(0, prefix.size(), prefix) != 0) continue;
    if (source.compare(source.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    if (!found || prefix.size() + suffix.size() > best_fixed) {
      best = source.substr(prefix.size(), source.size() - prefix.size() - suffix.size());
      best_fixed = prefix.size() + suffix.size();
      found = true;
    }
  }
  return best;
}

TEST(TasksTest, CountsFamiliesAndRelations) {
  const std::vector<Task> tasks = AllTasks();
  std::map<std::string, const Task*> by_name;
  int held_in = 0, held_out = 0;
  std::set<std::string> families;
  for (const Family& family : Families()) families.insert(family.name);
  EXPECT_EQ(families.size(), 4u);
  for (const Task& task : tasks) {
    EXPECT_TRUE(by_name.emplace(task.spec.name, &task).second) << "duplicate " << task.spec.name;
    EXPECT_TRUE(families.count(task.spec.family)) << task.spec.name;
    (task.spec.held_out ? held_out : held_in)++;
  }
  EXPECT_GE(held_in, 20);
  EXPECT_GE(held_out, 10);
  for (const std::string& family : families) {
    int in = 0, out = 0;
    for (const Task& task : tasks) {
      if (task.spec.family == family) (task.spec.held_out ? out : in)++;
    }
    EXPECT_GE(in, 5) << family;
    EXPECT_GE(out, 2) << family;
  }
  for (const Task& task : tasks) {
    if (!task.spec.held_out) {
      EXPECT_TRUE(task.spec.related.empty()) << task.spec.name;
      continue;
    }
    ASSERT_FALSE(task.spec.related.empty()) << task.spec.name;
    for (const std::string& related : task.spec.related) {
      ASSERT_TRUE(by_name.count(related)) << task.spec.name << " -> " << related;
      const Task& other = *by_name[related];
      EXPECT_FALSE(other.spec.held_out) << task.spec.name << " -> " << related;
      EXPECT_EQ(other.spec.family, task.spec.family) << task.spec.name << " -> " << related;
      // Related means sharing an operation, or being a close variant of one
      // (the variant pairs below are the suite's declared design).
      const std::set<std::pair<std::string, std::string>> variants = {
          {"shift_back", "shift"},   {"min", "max"},           {"min", "sort"},
          {"count_even", "count_odd"}, {"count_close", "count_open"},
          {"open_only", "count_open"}, {"open_only", "dedupe"}};
      std::set<std::string> shared;
      for (const std::string& op : task.spec.operations) {
        for (const std::string& their : other.spec.operations) {
          if (op == their || variants.count({op, their})) shared.insert(op);
        }
      }
      EXPECT_FALSE(shared.empty()) << task.spec.name << " -> " << related;
    }
    // A held-out task is not a copy of a held-in one.
    for (const Task& other : tasks) {
      if (other.spec.held_out || other.spec.family != task.spec.family) continue;
      EXPECT_NE(other.spec.operations, task.spec.operations) << task.spec.name;
    }
  }
}

TEST(TasksTest, EveryOperationExistsInItsFamily) {
  const std::vector<Operation> operations = Operations();
  std::set<std::string> codes_per_name;
  std::map<std::string, std::string> code_of;
  for (const Operation& op : operations) {
    auto [it, inserted] = code_of.emplace(op.name, op.code);
    EXPECT_EQ(it->second, op.code) << "one code per operation name: " << op.name;
    EXPECT_EQ(op.code.size(), 2u) << op.name;
  }
  std::set<std::string> codes;
  for (const auto& [name, code] : code_of) EXPECT_TRUE(codes.insert(code).second) << code;
  for (const Task& task : AllTasks()) {
    for (const std::string& name : task.spec.operations) {
      const bool found = std::any_of(operations.begin(), operations.end(), [&](const Operation& op) {
        return op.family == task.spec.family && op.name == name;
      });
      EXPECT_TRUE(found) << task.spec.name << " uses unknown operation " << name;
    }
  }
}

TEST(TasksTest, TemplatesAreDistinctAndWellFormed) {
  std::map<std::string, std::string> owner;
  for (const Task& task : AllTasks()) {
    EXPECT_GE(task.spec.templates.size(), 3u) << task.spec.name;
    for (const std::string& t : task.spec.templates) {
      const size_t hole = t.find("{x}");
      ASSERT_NE(hole, std::string::npos) << t;
      EXPECT_EQ(t.find("{x}", hole + 1), std::string::npos) << t;
      // The instruction never names the task.
      EXPECT_EQ(t.find(task.spec.name), std::string::npos) << t;
      EXPECT_TRUE(owner.emplace(t, task.spec.name).second)
          << "template shared by " << owner[t] << " and " << task.spec.name << ": " << t;
    }
  }
}

TEST(TasksTest, AnswersMatchAnIndependentImplementation) {
  ASSERT_EQ(Reference().size(), AllTasks().size());
  for (const Task& task : AllTasks()) {
    ASSERT_TRUE(Reference().count(task.spec.name)) << task.spec.name;
    const auto& reference = Reference().at(task.spec.name);
    Rng rng(17);
    for (int i = 0; i < 300; ++i) {
      const TaskExample example = RenderExample(task, task.sample(rng), rng);
      ASSERT_TRUE(InDomain(task.spec.family, example.input)) << task.spec.name << ": " << example.input;
      EXPECT_EQ(example.target, reference(example.input)) << task.spec.name << ": " << example.source;
      EXPECT_NE(example.source.find(example.input), std::string::npos);
      EXPECT_EQ(InputOf(task, example.source), example.input) << example.source;
    }
  }
}

TEST(TasksTest, GeneratedExamplesAreCorrectShortDistinctAndDeterministic) {
  SuiteOptions options;
  options.seed = 5;
  options.train_per_task = 200;
  options.validation_per_task = 20;
  options.test_per_task = 40;
  for (const Task& task : AllTasks()) {
    auto examples = GenerateTaskExamples(task, options);
    ASSERT_TRUE(examples.ok()) << examples.status();
    ASSERT_EQ(examples->size(), 260u);
    auto again = GenerateTaskExamples(task, options);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*examples, *again) << task.spec.name << " is not deterministic";

    std::map<std::string, int> per_split;
    std::set<std::string> inputs;
    std::set<std::string> templates_used;
    for (const FlanExample& example : *examples) {
      per_split[example.split]++;
      EXPECT_EQ(example.task_name, task.spec.name);
      const std::string input = InputOf(task, example.source);
      ASSERT_TRUE(InDomain(task.spec.family, input)) << example.source;
      EXPECT_EQ(example.target, Reference().at(task.spec.name)(input)) << example.source;
      EXPECT_TRUE(inputs.insert(input).second) << "input repeated across splits: " << input;
      // A byte-level model sees source, a separator, target and an end token.
      EXPECT_LE(example.source.size() + example.target.size() + 2, 96u) << example.source;
      for (const std::string& t : task.spec.templates) {
        const std::string prefix = t.substr(0, t.find("{x}"));
        if (example.source.compare(0, prefix.size(), prefix) == 0) templates_used.insert(t);
      }
    }
    EXPECT_EQ(per_split["train"], 200);
    EXPECT_EQ(per_split["validation"], 20);
    EXPECT_EQ(per_split["test"], 40);
    EXPECT_EQ(templates_used.size(), task.spec.templates.size()) << task.spec.name;

    SuiteOptions other = options;
    other.seed = 6;
    auto different = GenerateTaskExamples(task, other);
    ASSERT_TRUE(different.ok());
    EXPECT_NE(*examples, *different) << task.spec.name << " ignores the seed";
  }
}

TEST(TasksTest, TooManyExamplesForASmallInputSpaceFails) {
  auto task = FindTask("brackets_close");
  ASSERT_TRUE(task.ok());
  SuiteOptions options;
  options.train_per_task = 100000;  // 4^2 + ... + 4^6 = 5456 distinct inputs exist
  auto examples = GenerateTaskExamples(*task, options);
  ASSERT_FALSE(examples.ok());
  EXPECT_EQ(examples.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(examples.status().message().find("brackets_close: found only"), std::string::npos);
}

TEST(TasksTest, FindTaskListsKnownNames) {
  auto missing = FindTask("letters_unknown");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("letters_reverse"), std::string::npos);
}

TEST(TasksTest, AnswerDistributionsAreNotDegenerate) {
  // A task whose answers are mostly one value would let a model score
  // without reading the input.
  for (const Task& task : AllTasks()) {
    Rng rng(3);
    std::map<std::string, int> counts;
    const int n = 400;
    for (int i = 0; i < n; ++i) counts[RenderExample(task, task.sample(rng), rng).target]++;
    int top = 0;
    for (const auto& [target, count] : counts) top = std::max(top, count);
    EXPECT_LT(top, 0.6 * n) << task.spec.name;
    EXPECT_GE(counts.size(), 2u) << task.spec.name;
  }
}

}  // namespace
}  // namespace libra::data::synthetic
