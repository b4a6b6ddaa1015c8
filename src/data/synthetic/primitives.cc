#include "src/data/synthetic/primitives.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace libra::data::synthetic {
namespace {

char Partner(char c) {
  const size_t open = kOpenBrackets.find(c);
  if (open != absl::string_view::npos) return kCloseBrackets[open];
  const size_t close = kCloseBrackets.find(c);
  if (close != absl::string_view::npos) return kOpenBrackets[close];
  return c;
}

bool IsOpen(const std::string& item) {
  return item.size() == 1 && kOpenBrackets.find(item[0]) != absl::string_view::npos;
}
bool IsClose(const std::string& item) {
  return item.size() == 1 && kCloseBrackets.find(item[0]) != absl::string_view::npos;
}

Items CountWhere(const Items& items, bool (*keep)(const std::string&)) {
  return {std::to_string(std::count_if(items.begin(), items.end(), keep))};
}

bool IsOddDigit(const std::string& item) { return !item.empty() && (item[0] - '0') % 2 == 1; }
bool IsEvenDigit(const std::string& item) { return !item.empty() && (item[0] - '0') % 2 == 0; }

}  // namespace

Items Chars(absl::string_view text) {
  Items items;
  for (char c : text) items.emplace_back(1, c);
  return items;
}

Items Words(absl::string_view text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

std::string Join(const Items& items, absl::string_view separator) {
  return absl::StrJoin(items, separator);
}

Items Reverse(const Items& items) { return Items(items.rbegin(), items.rend()); }

Items SortAscending(const Items& items) {
  Items sorted = items;
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

Items SortDescending(const Items& items) { return Reverse(SortAscending(items)); }

Items RotateLeft(const Items& items, int steps) {
  if (items.empty()) return items;
  Items rotated = items;
  const int n = static_cast<int>(items.size());
  std::rotate(rotated.begin(), rotated.begin() + ((steps % n) + n) % n, rotated.end());
  return rotated;
}

Items Dedupe(const Items& items) {
  std::set<std::string> seen;
  Items kept;
  for (const std::string& item : items) {
    if (seen.insert(item).second) kept.push_back(item);
  }
  return kept;
}

Items EveryKth(const Items& items, int k) {
  Items kept;
  for (size_t i = k - 1; k > 0 && i < items.size(); i += k) kept.push_back(items[i]);
  return kept;
}

Items KeepOpenBrackets(const Items& items) {
  Items kept;
  for (const std::string& item : items) {
    if (IsOpen(item)) kept.push_back(item);
  }
  return kept;
}

Items Shift(const Items& items, absl::string_view alphabet, int steps) {
  const int n = static_cast<int>(alphabet.size());
  Items shifted;
  for (const std::string& item : items) {
    std::string out = item;
    for (char& c : out) {
      const size_t index = alphabet.find(c);
      if (index != absl::string_view::npos) c = alphabet[((static_cast<int>(index) + steps) % n + n) % n];
    }
    shifted.push_back(out);
  }
  return shifted;
}

Items MirrorBrackets(const Items& items) {
  Items mirrored;
  for (const std::string& item : items) {
    std::string out = item;
    for (char& c : out) c = Partner(c);
    mirrored.push_back(out);
  }
  return mirrored;
}

Items Uppercase(const Items& items) {
  Items upper;
  for (const std::string& item : items) upper.push_back(absl::AsciiStrToUpper(item));
  return upper;
}

Items FirstLetters(const Items& words) {
  std::string letters;
  for (const std::string& word : words) {
    if (!word.empty()) letters += word.front();
  }
  return {letters};
}

Items LastLetters(const Items& words) {
  std::string letters;
  for (const std::string& word : words) {
    if (!word.empty()) letters += word.back();
  }
  return {letters};
}

Items Count(const Items& items) { return {std::to_string(items.size())}; }
Items CountOdd(const Items& digits) { return CountWhere(digits, IsOddDigit); }
Items CountEven(const Items& digits) { return CountWhere(digits, IsEvenDigit); }
Items CountOpenBrackets(const Items& items) { return CountWhere(items, IsOpen); }
Items CountCloseBrackets(const Items& items) { return CountWhere(items, IsClose); }

Items DigitSum(const Items& digits) {
  int sum = 0;
  for (const std::string& digit : digits) sum += digit.empty() ? 0 : digit[0] - '0';
  return {std::to_string(sum)};
}

Items MaxItem(const Items& items) {
  if (items.empty()) return {};
  return {*std::max_element(items.begin(), items.end())};
}

Items MinItem(const Items& items) {
  if (items.empty()) return {};
  return {*std::min_element(items.begin(), items.end())};
}

bool Balanced(const Items& brackets) {
  std::string stack;
  for (const std::string& item : brackets) {
    if (IsOpen(item)) {
      stack.push_back(item[0]);
    } else if (IsClose(item)) {
      if (stack.empty() || Partner(stack.back()) != item[0]) return false;
      stack.pop_back();
    }
  }
  return stack.empty();
}

Items IsBalanced(const Items& brackets) { return {Balanced(brackets) ? "yes" : "no"}; }

Items ClosingBrackets(const Items& opens) { return MirrorBrackets(Reverse(opens)); }

}  // namespace libra::data::synthetic
