// Writes Flan-style JSONL atomically: the file appears complete on Commit or
// not at all (src/core/io/atomic_file.h), so a crash never leaves half a
// data set. Lines are {"source", "target", "task_name", "split"} in that order.
//
//   LIBRA_ASSIGN_OR_RETURN(FlanJsonlWriter writer, FlanJsonlWriter::Create(path));
//   for (const FlanExample& example : examples) LIBRA_RETURN_IF_ERROR(writer.Write(example));
//   LIBRA_RETURN_IF_ERROR(writer.Commit());
//
//   LIBRA_RETURN_IF_ERROR(WriteFlanJsonl(path, examples));  // the same in one call
#ifndef LIBRA_DATA_FLAN_JSONL_WRITER_H_
#define LIBRA_DATA_FLAN_JSONL_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/io/atomic_file.h"
#include "src/data/flan_example.h"

namespace libra::data {

// One JSON line with a trailing newline. Fails on text that is not UTF-8 or
// an unknown split.
absl::StatusOr<std::string> FlanJsonLine(const FlanExample& example);

class FlanJsonlWriter {
 public:
  static absl::StatusOr<FlanJsonlWriter> Create(const std::string& path);

  absl::Status Write(const FlanExample& example);
  // Publishes the file. Without it the destination is left untouched.
  absl::Status Commit();
  int64_t count() const { return count_; }

 private:
  explicit FlanJsonlWriter(AtomicFile file) : file_(std::move(file)) {}
  AtomicFile file_;
  int64_t count_ = 0;
};

absl::Status WriteFlanJsonl(const std::string& path, absl::Span<const FlanExample> examples);

}  // namespace libra::data

#endif  // LIBRA_DATA_FLAN_JSONL_WRITER_H_
