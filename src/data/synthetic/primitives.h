// The sequence operations every synthetic task and the pretraining corpus are
// built from. A sequence is a list of items: single characters for the
// letter, digit and bracket domains, words for the word domain. Operations
// that produce a number or a verdict return a one-item list ("7", "yes").
//
//   Items x = Chars("QMBXT");
//   Join(Reverse(x), "");          // "TXBMQ"
//   Join(Shift(x, kUpper, 1), ""); // "RNCYU"
#ifndef LIBRA_DATA_SYNTHETIC_PRIMITIVES_H_
#define LIBRA_DATA_SYNTHETIC_PRIMITIVES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace libra::data::synthetic {

using Items = std::vector<std::string>;

inline constexpr absl::string_view kUpperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
inline constexpr absl::string_view kDigits = "0123456789";
inline constexpr absl::string_view kBrackets = "()[]{}<>";
inline constexpr absl::string_view kOpenBrackets = "([{<";
inline constexpr absl::string_view kCloseBrackets = ")]}>";

Items Chars(absl::string_view text);
Items Words(absl::string_view text);  // split on single spaces
std::string Join(const Items& items, absl::string_view separator);

// Order.
Items Reverse(const Items& items);
Items SortAscending(const Items& items);   // byte order: A..Z, 0..9, a..z
Items SortDescending(const Items& items);
Items RotateLeft(const Items& items, int steps);
// Selection.
Items Dedupe(const Items& items);            // keeps first occurrences
Items EveryKth(const Items& items, int k);   // items k, 2k, ... (1-based)
Items KeepOpenBrackets(const Items& items);
// Maps, character by character.
Items Shift(const Items& items, absl::string_view alphabet, int steps);  // cyclic
Items MirrorBrackets(const Items& items);  // ( <-> ), [ <-> ], { <-> }, < <-> >
Items Uppercase(const Items& items);
// Word parts: one fused item.
Items FirstLetters(const Items& words);
Items LastLetters(const Items& words);
// Reductions: one item.
Items Count(const Items& items);
Items CountOdd(const Items& digits);
Items CountEven(const Items& digits);
Items CountOpenBrackets(const Items& items);
Items CountCloseBrackets(const Items& items);
Items DigitSum(const Items& digits);
Items MaxItem(const Items& items);
Items MinItem(const Items& items);
Items IsBalanced(const Items& brackets);      // "yes" / "no"
// The closing brackets that complete a run of opening ones, innermost first.
Items ClosingBrackets(const Items& opens);

bool Balanced(const Items& brackets);

}  // namespace libra::data::synthetic

#endif  // LIBRA_DATA_SYNTHETIC_PRIMITIVES_H_
