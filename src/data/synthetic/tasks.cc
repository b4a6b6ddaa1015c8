#include "src/data/synthetic/tasks.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace libra::data::synthetic {
namespace {

// Short lowercase words (3-4 letters), so four of them stay under 20 bytes.
const std::vector<std::string>& WordList() {
  static const auto* const kWords = new std::vector<std::string>{
      "ant", "bat",  "bee",  "box", "bus",  "cab",  "cat",  "cow",  "cup", "dog", "egg", "elk",
      "fan", "fig",  "fox",  "gem", "hat",  "hen",  "ink",  "jam",  "jar", "jet", "key", "kit",
      "lamp", "leaf", "lime", "map", "moon", "mop", "nest", "net",  "oak", "owl", "pan", "pen",
      "pig", "rat",  "rug",  "sun", "toy",  "van",  "web",  "yak",  "zip"};
  return *kWords;
}

Items RandomChars(Rng& rng, absl::string_view alphabet, int min_length, int max_length) {
  Items items;
  const int length = rng.Uniform(min_length, max_length);
  for (int i = 0; i < length; ++i) items.emplace_back(1, rng.Pick(alphabet));
  return items;
}

// Draws from a small pool so that repeats are certain (pool < length).
Items RandomCharsWithRepeats(Rng& rng, absl::string_view alphabet, int min_pool, int max_pool,
                             int min_length, int max_length) {
  std::string letters(alphabet);
  rng.Shuffle(letters);
  const std::string pool = letters.substr(0, rng.Uniform(min_pool, max_pool));
  return RandomChars(rng, pool, min_length, max_length);
}

Items RandomWords(Rng& rng, int min_count, int max_count) {
  std::vector<std::string> words = WordList();
  rng.Shuffle(words);
  words.resize(rng.Uniform(min_count, max_count));
  return words;
}

Items BalancedBrackets(Rng& rng, int pairs) {
  Items items;
  std::string stack;
  int opens_left = pairs;
  while (opens_left > 0 || !stack.empty()) {
    if (opens_left > 0 && (stack.empty() || rng.Bernoulli(0.5))) {
      const int type = rng.Uniform(0, 3);
      items.emplace_back(1, kOpenBrackets[type]);
      stack.push_back(kCloseBrackets[type]);
      --opens_left;
    } else {
      items.emplace_back(1, stack.back());
      stack.pop_back();
    }
  }
  return items;
}

// Half balanced, half a balanced string with one bracket changed so that it
// is no longer balanced (a near miss, not random noise).
Items BalancedOrNearMiss(Rng& rng) {
  Items items = BalancedBrackets(rng, rng.Uniform(4, 5));
  if (rng.Bernoulli(0.5)) return items;
  while (Balanced(items)) {
    items[rng.Uniform(0, static_cast<int>(items.size()) - 1)] = std::string(1, rng.Pick(kBrackets));
  }
  return items;
}

Items Letters(Rng& rng) { return RandomChars(rng, kUpperLetters, 5, 8); }
Items LettersWithRepeats(Rng& rng) { return RandomCharsWithRepeats(rng, kUpperLetters, 3, 5, 6, 9); }
Items DigitString(Rng& rng) { return RandomChars(rng, kDigits, 4, 7); }
// Sums stay short: a 2-4 layer model adds 3-5 digits far more reliably than 7.
Items FewDigits(Rng& rng) { return RandomChars(rng, kDigits, 3, 5); }
Items FewWords(Rng& rng) { return RandomWords(rng, 3, 4); }
Items SomeWords(Rng& rng) { return RandomWords(rng, 2, 6); }
Items BracketString(Rng& rng) { return RandomChars(rng, kBrackets, 4, 8); }
Items BracketsWithRepeats(Rng& rng) { return RandomCharsWithRepeats(rng, kBrackets, 3, 4, 6, 8); }
Items OpenBrackets(Rng& rng) { return RandomChars(rng, kOpenBrackets, 2, 6); }

// Opaque codes for the pretraining corpus: the base model learns the
// operations, never the instruction words.
std::string CodeOf(absl::string_view operation) {
  static const auto* const kCodes = new std::map<std::string, std::string, std::less<>>{
      {"copy", "qq"},       {"reverse", "qz"},     {"sort", "xv"},         {"shift", "jk"},
      {"shift_back", "vq"}, {"dedupe", "zx"},      {"every_second", "kj"}, {"rotate", "qj"},
      {"sum", "xz"},        {"max", "jv"},         {"min", "zq"},          {"count_odd", "vx"},
      {"count_even", "kq"}, {"upper", "jx"},       {"initials", "zv"},     {"last_letters", "xq"},
      {"count", "qk"},      {"mirror", "vj"},      {"count_open", "kz"},   {"count_close", "jq"},
      {"balanced", "zk"},   {"close", "xk"},       {"open_only", "vz"}};
  auto it = kCodes->find(operation);
  return it == kCodes->end() ? std::string(operation) : it->second;
}

Items Identity(const Items& items) { return items; }

TaskSpec HeldIn(std::string name, std::string family, std::vector<std::string> operations,
                std::vector<std::string> templates) {
  return {std::move(name), std::move(family), false, std::move(operations), {}, std::move(templates)};
}

TaskSpec HeldOut(std::string name, std::string family, std::vector<std::string> operations,
                 std::vector<std::string> related, std::vector<std::string> templates) {
  return {std::move(name), std::move(family),  true,
          std::move(operations), std::move(related), std::move(templates)};
}

std::vector<TaskSpec> TaskSpecs() {
  return {
      // letters: uppercase A-Z, 5-8 letters.
      HeldIn("letters_reverse", "letters", {"reverse"},
             {"Reverse the letters: {x}", "Write {x} backwards.",
              "{x}\nSpell this string in reverse order.",
              "Read these letters from right to left: {x}"}),
      HeldIn("letters_sort", "letters", {"sort"},
             {"Sort the letters alphabetically: {x}",
              "Put the letters of {x} in alphabetical order.",
              "{x}\nArrange these letters from A to Z.", "Alphabetize: {x}"}),
      HeldIn("letters_shift", "letters", {"shift"},
             {"Shift every letter forward by one: {x}",
              "Replace each letter of {x} with the next one in the alphabet.",
              "{x}\nAdvance each letter by one (Z becomes A).", "Caesar shift {x} by +1."}),
      HeldIn("letters_dedupe", "letters", {"dedupe"},
             {"Remove repeated letters from {x}",
              "Keep only the first occurrence of each letter: {x}",
              "{x}\nDrop every letter that already appeared.", "Delete duplicate letters: {x}"}),
      HeldIn("letters_every_second", "letters", {"every_second"},
             {"Keep every second letter of {x}", "Take the letters in even positions: {x}",
              "{x}\nWrite only the 2nd, 4th, 6th... letters.", "Skip one, keep one: {x}"}),
      HeldIn("letters_rotate", "letters", {"rotate"},
             {"Move the first letter to the end: {x}", "Rotate {x} left by one position.",
              "{x}\nTake the leading letter and put it last.",
              "Cycle the letters one step to the left: {x}"}),
      // digits: 4-7 digits.
      HeldIn("digits_sum", "digits", {"sum"},
             {"Add up the digits of {x}", "What is the sum of the digits in {x}?",
              "{x}\nTotal of all these digits:", "Sum the digits: {x}"}),
      HeldIn("digits_increment", "digits", {"shift"},
             {"Add one to each digit of {x} (9 becomes 0).", "Increment every digit: {x}",
              "{x}\nRaise each digit by one, wrapping 9 to 0.",
              "Replace each digit in {x} with the next digit."}),
      HeldIn("digits_sort", "digits", {"sort"},
             {"Sort the digits in ascending order: {x}",
              "Arrange the digits of {x} from smallest to largest.",
              "{x}\nOrder these digits from low to high.", "Put {x} in increasing digit order."}),
      HeldIn("digits_max", "digits", {"max"},
             {"What is the largest digit in {x}?", "Find the maximum digit: {x}",
              "{x}\nWhich digit is the biggest?", "Name the highest digit of {x}."}),
      HeldIn("digits_count_odd", "digits", {"count_odd"},
             {"How many odd digits are in {x}?", "Count the odd digits: {x}",
              "{x}\nNumber of digits that are odd:", "Tell how many digits of {x} are odd."}),
      HeldIn("digits_reverse", "digits", {"reverse"},
             {"Reverse the digits: {x}", "Write the number {x} backwards.",
              "{x}\nGive these digits in reverse order.", "Read {x} from right to left."}),
      // words: 3-4 short lowercase words (2-6 for counting).
      HeldIn("words_initials", "words", {"initials"},
             {"Write the first letter of each word: {x}", "Give the initials of {x}",
              "{x}\nTake the first letter of every word.", "Form an acronym from: {x}"}),
      HeldIn("words_reverse", "words", {"reverse"},
             {"Reverse the order of the words: {x}", "List these words last to first: {x}",
              "{x}\nSay the words from the end to the start.", "Flip the word order of {x}"}),
      HeldIn("words_sort", "words", {"sort"},
             {"Sort these words alphabetically: {x}", "Put the words in dictionary order: {x}",
              "{x}\nArrange the words from A to Z.", "Alphabetize the list {x}"}),
      HeldIn("words_upper", "words", {"upper"},
             {"Write these words in capital letters: {x}", "Convert to uppercase: {x}",
              "{x}\nShout these words in all caps.", "Make every letter of {x} uppercase."}),
      HeldIn("words_last_letters", "words", {"last_letters"},
             {"Write the last letter of each word: {x}",
              "Give the final letter of every word in {x}",
              "{x}\nTake the ending letter of each word.", "End letters of the words {x}:"}),
      HeldIn("words_count", "words", {"count"},
             {"How many words are in {x}?", "Count the words: {x}",
              "{x}\nNumber of words in this list:", "Tell how many words {x} has."}),
      // brackets: ()[]{}<>, 4-8 symbols.
      HeldIn("brackets_reverse", "brackets", {"reverse"},
             {"Reverse the brackets: {x}", "Write this bracket string backwards: {x}",
              "{x}\nGive these symbols in reverse order.",
              "Flip the order of the brackets in {x}"}),
      HeldIn("brackets_mirror", "brackets", {"mirror"},
             {"Swap each opening bracket with its closing partner: {x}",
              "Mirror each bracket of {x}",
              "{x}\nReplace every bracket by its matching counterpart.",
              "Turn each bracket to face the other way: {x}"}),
      HeldIn("brackets_count_open", "brackets", {"count_open"},
             {"How many opening brackets are in {x}?", "Count the open brackets: {x}",
              "{x}\nNumber of brackets that open:",
              "Tell how many brackets in {x} are opening ones."}),
      HeldIn("brackets_balanced", "brackets", {"balanced"},
             {"Are the brackets balanced? {x}", "Is {x} properly nested? Answer yes or no.",
              "{x}\nDoes every bracket close correctly?", "Check whether {x} is balanced."}),
      HeldIn("brackets_close", "brackets", {"close"},
             {"Close these brackets: {x}", "Write the brackets that close {x}",
              "{x}\nComplete the nesting with the matching closers.", "What closes {x}?"}),
      HeldIn("brackets_dedupe", "brackets", {"dedupe"},
             {"Remove repeated brackets from {x}",
              "Keep only the first occurrence of each bracket: {x}",
              "{x}\nDrop every bracket symbol already seen.", "Delete duplicate brackets: {x}"}),

      // Held-out: compositions and close variants inside each family.
      HeldOut("letters_reverse_shift", "letters", {"reverse", "shift"},
              {"letters_reverse", "letters_shift"},
              {"Reverse {x}, then shift each letter forward by one.",
               "Write {x} backwards and replace each letter with the next one.",
               "{x}\nRead right to left, advancing every letter by one."}),
      HeldOut("letters_sort_desc", "letters", {"sort", "reverse"},
              {"letters_sort", "letters_reverse"},
              {"Sort the letters of {x} in reverse alphabetical order.",
               "Arrange these letters from Z to A: {x}",
               "{x}\nAlphabetize, then reverse the result."}),
      HeldOut("letters_shift_back", "letters", {"shift_back"}, {"letters_shift"},
              {"Shift every letter backward by one: {x}",
               "Replace each letter of {x} with the previous one in the alphabet.",
               "{x}\nMove each letter one step earlier (A becomes Z)."}),
      HeldOut("digits_min", "digits", {"min"}, {"digits_max", "digits_sort"},
              {"What is the smallest digit in {x}?", "Find the minimum digit: {x}",
               "{x}\nWhich digit is the lowest?"}),
      HeldOut("digits_increment_reverse", "digits", {"shift", "reverse"},
              {"digits_increment", "digits_reverse"},
              {"Add one to each digit of {x}, then reverse them.",
               "Increment every digit and write the result backwards: {x}",
               "{x}\nRaise each digit by one and read right to left."}),
      HeldOut("digits_count_even", "digits", {"count_even"}, {"digits_count_odd"},
              {"How many even digits are in {x}?", "Count the even digits: {x}",
               "{x}\nNumber of digits that are even:"}),
      HeldOut("words_initials_reverse", "words", {"reverse", "initials"},
              {"words_initials", "words_reverse"},
              {"Write the first letter of each word, last word first: {x}",
               "Give the initials of {x} in reverse order.",
               "{x}\nReverse the word order, then take each first letter."}),
      HeldOut("words_upper_initials", "words", {"initials", "upper"},
              {"words_initials", "words_upper"},
              {"Write the first letter of each word as a capital: {x}",
               "Give the capitalized initials of {x}",
               "{x}\nTake every first letter in uppercase."}),
      HeldOut("words_sort_initials", "words", {"sort", "initials"},
              {"words_sort", "words_initials"},
              {"Alphabetize the words, then take each first letter: {x}",
               "Initials of {x} in dictionary order:",
               "{x}\nArrange the words from A to Z and write their initials."}),
      HeldOut("brackets_reverse_mirror", "brackets", {"reverse", "mirror"},
              {"brackets_reverse", "brackets_mirror"},
              {"Reverse the brackets and flip each one's direction: {x}",
               "Write {x} backwards with every bracket mirrored.",
               "{x}\nGive the mirror image of this bracket string."}),
      HeldOut("brackets_count_close", "brackets", {"count_close"}, {"brackets_count_open"},
              {"How many closing brackets are in {x}?", "Count the close brackets: {x}",
               "{x}\nNumber of brackets that close:"}),
      HeldOut("brackets_open_only", "brackets", {"open_only"},
              {"brackets_count_open", "brackets_dedupe"},
              {"Keep only the opening brackets of {x}", "Remove all closing brackets: {x}",
               "{x}\nWrite just the brackets that open."}),
  };
}

}  // namespace

std::vector<Family> Families() {
  return {{"letters", "uppercase letters A-Z, 5-8 of them", ""},
          {"digits", "digits 0-9, 4-7 of them (3-5 for sums)", ""},
          {"words", "short lowercase words separated by spaces, 3-4 of them", " "},
          {"brackets", "brackets ()[]{}<>, 4-8 of them (8-10 for balance checks)", ""}};
}

std::vector<Operation> Operations() {
  using Apply = std::function<Items(const Items&)>;
  using Sample = std::function<Items(Rng&)>;
  std::vector<Operation> operations;
  const auto add = [&](const char* family, const char* name, Apply apply, Sample sample,
                       bool keeps_domain) {
    operations.push_back({name, CodeOf(name), family, std::move(apply), std::move(sample),
                          keeps_domain});
  };
  add("letters", "copy", Identity, Letters, true);
  add("letters", "reverse", Reverse, Letters, true);
  add("letters", "sort", SortAscending, Letters, true);
  add("letters", "shift", [](const Items& x) { return Shift(x, kUpperLetters, 1); }, Letters, true);
  add("letters", "shift_back", [](const Items& x) { return Shift(x, kUpperLetters, -1); }, Letters,
      true);
  add("letters", "dedupe", Dedupe, LettersWithRepeats, true);
  add("letters", "every_second", [](const Items& x) { return EveryKth(x, 2); }, Letters, true);
  add("letters", "rotate", [](const Items& x) { return RotateLeft(x, 1); }, Letters, true);

  add("digits", "copy", Identity, DigitString, true);
  add("digits", "reverse", Reverse, DigitString, true);
  add("digits", "sort", SortAscending, DigitString, true);
  add("digits", "shift", [](const Items& x) { return Shift(x, kDigits, 1); }, DigitString, true);
  add("digits", "sum", DigitSum, FewDigits, false);
  add("digits", "max", MaxItem, DigitString, false);
  add("digits", "min", MinItem, DigitString, false);
  add("digits", "count_odd", CountOdd, DigitString, false);
  add("digits", "count_even", CountEven, DigitString, false);

  add("words", "copy", Identity, FewWords, true);
  add("words", "reverse", Reverse, FewWords, true);
  add("words", "sort", SortAscending, FewWords, true);
  add("words", "upper", Uppercase, FewWords, false);
  add("words", "initials", FirstLetters, FewWords, false);
  add("words", "last_letters", LastLetters, FewWords, false);
  add("words", "count", Count, SomeWords, false);

  add("brackets", "copy", Identity, BracketString, true);
  add("brackets", "reverse", Reverse, BracketString, true);
  add("brackets", "mirror", MirrorBrackets, BracketString, true);
  add("brackets", "dedupe", Dedupe, BracketsWithRepeats, true);
  add("brackets", "count_open", CountOpenBrackets, BracketString, false);
  add("brackets", "count_close", CountCloseBrackets, BracketString, false);
  add("brackets", "balanced", IsBalanced, BalancedOrNearMiss, false);
  add("brackets", "close", ClosingBrackets, OpenBrackets, false);
  add("brackets", "open_only", KeepOpenBrackets, BracketString, true);
  return operations;
}

std::vector<Task> AllTasks() {
  const std::vector<Operation> operations = Operations();
  std::map<std::string, std::string> separators;
  for (const Family& family : Families()) separators[family.name] = family.separator;
  const auto find = [&](const std::string& family, const std::string& name) -> const Operation& {
    for (const Operation& operation : operations) {
      if (operation.family == family && operation.name == name) return operation;
    }
    // The table above only names operations that exist; tests check every task.
    return operations.front();
  };
  std::vector<Task> tasks;
  for (TaskSpec& spec : TaskSpecs()) {
    Task task;
    task.separator = separators[spec.family];
    task.sample = find(spec.family, spec.operations.front()).sample;
    std::vector<std::function<Items(const Items&)>> steps;
    for (const std::string& name : spec.operations) steps.push_back(find(spec.family, name).apply);
    task.answer = [steps](const Items& input) {
      Items value = input;
      for (const auto& step : steps) value = step(value);
      return value;
    };
    task.spec = std::move(spec);
    tasks.push_back(std::move(task));
  }
  return tasks;
}

absl::StatusOr<Task> FindTask(absl::string_view name) {
  std::vector<std::string> names;
  for (Task& task : AllTasks()) {
    if (task.spec.name == name) return std::move(task);
    names.push_back(task.spec.name);
  }
  return absl::NotFoundError(absl::StrCat("unknown synthetic task \"", name, "\"; known: ",
                                          absl::StrJoin(names, ", ")));
}

TaskExample RenderExample(const Task& task, const Items& input, Rng& rng) {
  TaskExample example;
  example.input = Join(input, task.separator);
  example.source = absl::StrReplaceAll(rng.Pick(task.spec.templates), {{"{x}", example.input}});
  example.target = Join(task.answer(input), task.separator);
  return example;
}

}  // namespace libra::data::synthetic
