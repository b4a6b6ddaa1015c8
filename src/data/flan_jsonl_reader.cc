#include "src/data/flan_jsonl_reader.h"

#include <algorithm>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/status_macros.h"

namespace libra::data {
namespace {

using Json = nlohmann::json;

// Collects the parser's message without exceptions: the DOM parser can only
// say "discarded", the SAX parser reports what and where.
class ErrorOnlySax : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& error) override {
    message = error.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    const size_t bracket = message.find("] ");
    if (absl::StartsWith(message, "[json.exception") && bracket != std::string::npos) {
      message.erase(0, bracket + 2);
    }
    return false;
  }
  std::string message = "invalid JSON";
};

absl::Status LineError(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

const char* TypeName(const Json& value) { return value.type_name(); }

}  // namespace

absl::StatusOr<FlanExample> ParseFlanLine(absl::string_view line, const FlanReadOptions& options,
                                          absl::string_view where) {
  Json json = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    ErrorOnlySax sax;
    Json::sax_parse(line.begin(), line.end(), &sax);
    return LineError(where, absl::StrCat("bad JSON: ", sax.message));
  }
  if (!json.is_object()) {
    return LineError(where, absl::StrCat("expected a JSON object, got ", TypeName(json)));
  }
  FlanExample example;
  for (auto [key, field, required] :
       {std::tuple<const char*, std::string*, bool>{"source", &example.source, true},
        {"target", &example.target, true},
        {"task_name", &example.task_name, options.require_task_name},
        {"split", &example.split, false}}) {
    auto it = json.find(key);
    if (it == json.end()) {
      if (required) return LineError(where, absl::StrCat("missing \"", key, "\""));
      continue;
    }
    if (!it->is_string()) {
      return LineError(where, absl::StrCat("\"", key, "\" must be a string, got ", TypeName(*it)));
    }
    *field = it->get<std::string>();
  }
  if (auto it = json.find("options"); it != json.end()) {
    if (!it->is_array() || it->empty()) {
      return LineError(where, "\"options\" must be a non-empty array of strings");
    }
    for (const Json& option : *it) {
      if (!option.is_string()) {
        return LineError(where, absl::StrCat("\"options\" must hold strings, got ",
                                             TypeName(option)));
      }
      example.options.push_back(option.get<std::string>());
    }
    if (std::find(example.options.begin(), example.options.end(), example.target) ==
        example.options.end()) {
      return LineError(where, "\"target\" is not one of \"options\"");
    }
  }
  if (json.contains("split")) {
    if (!IsKnownSplit(example.split)) {
      return LineError(where, absl::StrCat("\"split\" is \"", example.split,
                                           "\"; expected \"train\", \"validation\" or \"test\""));
    }
  } else {
    example.split = std::string(AssignSplit(example, options.split));
  }
  return example;
}

absl::StatusOr<FlanJsonlReader> FlanJsonlReader::Open(const std::string& path,
                                                      const FlanReadOptions& options) {
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) return absl::NotFoundError(absl::StrCat("cannot open data file ", path));
  return FlanJsonlReader(path, std::move(in), options);
}

absl::StatusOr<std::optional<FlanExample>> FlanJsonlReader::Next() {
  std::string line;
  while (std::getline(*in_, line)) {
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    LIBRA_ASSIGN_OR_RETURN(FlanExample example,
                           ParseFlanLine(line, options_, absl::StrCat(path_, ":", line_number_)));
    return std::optional<FlanExample>(std::move(example));
  }
  if (in_->bad()) {
    return absl::DataLossError(absl::StrCat(path_, ":", line_number_ + 1, ": read failed"));
  }
  return std::optional<FlanExample>();
}

absl::StatusOr<std::vector<FlanExample>> ReadFlanJsonl(const std::string& path,
                                                       const FlanReadOptions& options,
                                                       std::optional<std::string> split) {
  LIBRA_ASSIGN_OR_RETURN(FlanJsonlReader reader, FlanJsonlReader::Open(path, options));
  std::vector<FlanExample> examples;
  while (true) {
    LIBRA_ASSIGN_OR_RETURN(std::optional<FlanExample> example, reader.Next());
    if (!example) break;
    if (!split || example->split == *split) examples.push_back(std::move(*example));
  }
  return examples;
}

}  // namespace libra::data
