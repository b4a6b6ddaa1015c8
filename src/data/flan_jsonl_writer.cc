#include "src/data/flan_jsonl_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/status_macros.h"
#include "src/core/text/utf8.h"

namespace libra::data {

absl::StatusOr<std::string> FlanJsonLine(const FlanExample& example) {
  for (auto [name, value] : {std::pair<const char*, const std::string*>{"source", &example.source},
                             {"target", &example.target},
                             {"task_name", &example.task_name},
                             {"split", &example.split}}) {
    if (!text::IsValidUtf8(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("example of task \"", example.task_name, "\": ", name, " is not UTF-8"));
    }
  }
  if (!IsKnownSplit(example.split)) {
    return absl::InvalidArgumentError(absl::StrCat("example of task \"", example.task_name,
                                                   "\": unknown split \"", example.split, "\""));
  }
  for (const std::string& option : example.options) {
    if (!text::IsValidUtf8(option)) {
      return absl::InvalidArgumentError(
          absl::StrCat("example of task \"", example.task_name, "\": an option is not UTF-8"));
    }
  }
  const auto quote = [](const std::string& text) { return nlohmann::json(text).dump(); };
  std::string line = absl::StrCat("{\"source\": ", quote(example.source), ", \"target\": ",
                                  quote(example.target), ", \"task_name\": ",
                                  quote(example.task_name), ", \"split\": ", quote(example.split));
  if (!example.options.empty()) {
    absl::StrAppend(&line, ", \"options\": ", nlohmann::json(example.options).dump(-1, ' ', false));
  }
  absl::StrAppend(&line, "}\n");
  return line;
}

absl::StatusOr<FlanJsonlWriter> FlanJsonlWriter::Create(const std::string& path) {
  LIBRA_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  return FlanJsonlWriter(std::move(file));
}

absl::Status FlanJsonlWriter::Write(const FlanExample& example) {
  LIBRA_ASSIGN_OR_RETURN(std::string line, FlanJsonLine(example));
  LIBRA_RETURN_IF_ERROR(file_.Write(line));
  ++count_;
  return absl::OkStatus();
}

absl::Status FlanJsonlWriter::Commit() { return file_.Commit(); }

absl::Status WriteFlanJsonl(const std::string& path, absl::Span<const FlanExample> examples) {
  LIBRA_ASSIGN_OR_RETURN(FlanJsonlWriter writer, FlanJsonlWriter::Create(path));
  for (const FlanExample& example : examples) LIBRA_RETURN_IF_ERROR(writer.Write(example));
  return writer.Commit();
}

}  // namespace libra::data
