// Streaming reader of Flan-style JSONL (flan_example.h), validating every line.
//
// A line must be a JSON object with string "source" and "target", and may
// have a string "task_name" (default "") and a string "split" ("train",
// "validation" or "test"; when absent, AssignSplit picks one from the
// content and the seed). Other fields are ignored. Blank lines are skipped.
// Any other line stops reading with one clear error naming file and line:
//   data/train.jsonl:12: missing "target"
//   data/train.jsonl:3: bad JSON: syntax error while parsing object ...
//
//   LIBRA_ASSIGN_OR_RETURN(FlanJsonlReader reader, FlanJsonlReader::Open(path));
//   while (true) {
//     LIBRA_ASSIGN_OR_RETURN(std::optional<FlanExample> example, reader.Next());
//     if (!example) break;
//     ...
//   }
#ifndef LIBRA_DATA_FLAN_JSONL_READER_H_
#define LIBRA_DATA_FLAN_JSONL_READER_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/data/flan_example.h"
#include "src/data/split.h"

namespace libra::data {

struct FlanReadOptions {
  SplitOptions split;           // used for lines without "split"
  bool require_task_name = false;
};

class FlanJsonlReader {
 public:
  static absl::StatusOr<FlanJsonlReader> Open(const std::string& path,
                                              const FlanReadOptions& options = {});

  // The next example, or nullopt at the end of the file.
  absl::StatusOr<std::optional<FlanExample>> Next();

  // The 1-based number of the last line read.
  int64_t line_number() const { return line_number_; }

 private:
  FlanJsonlReader(std::string path, std::unique_ptr<std::ifstream> in, FlanReadOptions options)
      : path_(std::move(path)), in_(std::move(in)), options_(options) {}

  std::string path_;
  std::unique_ptr<std::ifstream> in_;
  FlanReadOptions options_;
  int64_t line_number_ = 0;
};

// Parses one line (without its newline). `where` prefixes error messages.
absl::StatusOr<FlanExample> ParseFlanLine(absl::string_view line, const FlanReadOptions& options,
                                          absl::string_view where);

// Reads a whole file; with `split`, keeps only that split's examples.
absl::StatusOr<std::vector<FlanExample>> ReadFlanJsonl(const std::string& path,
                                                       const FlanReadOptions& options = {},
                                                       std::optional<std::string> split = {});

}  // namespace libra::data

#endif  // LIBRA_DATA_FLAN_JSONL_READER_H_
