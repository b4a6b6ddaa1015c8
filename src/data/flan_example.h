// One Flan-style example: the unit of every data file libra reads or writes.
//
// On disk it is one JSONL line (flan_jsonl_reader.h, flan_jsonl_writer.h):
//   {"source": "Reverse the letters: ABC", "target": "CBA",
//    "task_name": "letters_reverse", "split": "train"}
// "split" is one of "train", "validation", "test". A multiple-choice example
// adds "options": ["...", ...] (the target is one of them); evaluation then
// scores each option by log-likelihood instead of generating.
//
//   FlanExample example{"Sort: 312", "123", "digits_sort", "train"};
#ifndef LIBRA_DATA_FLAN_EXAMPLE_H_
#define LIBRA_DATA_FLAN_EXAMPLE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace libra::data {

inline constexpr absl::string_view kTrainSplit = "train";
inline constexpr absl::string_view kValidationSplit = "validation";
inline constexpr absl::string_view kTestSplit = "test";

inline bool IsKnownSplit(absl::string_view split) {
  return split == kTrainSplit || split == kValidationSplit || split == kTestSplit;
}

struct FlanExample {
  std::string source;
  std::string target;
  std::string task_name;
  std::string split;
  std::vector<std::string> options;  // multiple choice when not empty
};

inline bool operator==(const FlanExample& a, const FlanExample& b) {
  return a.source == b.source && a.target == b.target && a.task_name == b.task_name &&
         a.split == b.split && a.options == b.options;
}

}  // namespace libra::data

#endif  // LIBRA_DATA_FLAN_EXAMPLE_H_
