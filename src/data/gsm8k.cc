#include "src/data/gsm8k.h"

#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace libra::data {
namespace {

using Json = nlohmann::json;

absl::Status LineError(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

absl::StatusOr<std::string> StringField(const Json& json, const char* key,
                                        absl::string_view where) {
  auto it = json.find(key);
  if (it == json.end()) return LineError(where, absl::StrCat("missing \"", key, "\""));
  if (!it->is_string()) {
    return LineError(where, absl::StrCat("\"", key, "\" must be a string, got ", it->type_name()));
  }
  return it->get<std::string>();
}

// The optional fields: "split" and "chain_length".
absl::Status ReadOptionalFields(const Json& json, absl::string_view where, Gsm8kExample& example) {
  if (auto it = json.find("split"); it != json.end()) {
    if (!it->is_string()) return LineError(where, "\"split\" must be a string");
    example.split = it->get<std::string>();
    if (example.split != "train" && example.split != "validation" && example.split != "test") {
      return LineError(where, absl::StrCat("\"split\" is \"", example.split,
                                           "\"; expected \"train\", \"validation\" or \"test\""));
    }
  }
  if (auto it = json.find("chain_length"); it != json.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return LineError(where, "\"chain_length\" must be a non-negative integer");
    }
    example.chain_length = it->get<int>();
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> SplitSteps(absl::string_view chain) {
  std::vector<std::string> steps;
  for (absl::string_view line : absl::StrSplit(chain, '\n')) {
    for (absl::string_view piece : absl::StrSplit(line, ". ")) {
      std::string step(absl::StripAsciiWhitespace(piece));
      if (step.empty()) continue;
      if (step.back() != '.') step.push_back('.');
      steps.push_back(std::move(step));
    }
  }
  return steps;
}

absl::StatusOr<std::vector<std::string>> CalculatorAnnotations(absl::string_view text) {
  std::vector<std::string> annotations;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("<<", pos);
    const size_t close = text.find(">>", pos);
    if (open == absl::string_view::npos) {
      if (close != absl::string_view::npos) return absl::InvalidArgumentError("unbalanced \">>\"");
      break;
    }
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("unbalanced \"<<\"");
    if (close < open) return absl::InvalidArgumentError("unbalanced \">>\"");
    const size_t next_open = text.find("<<", open + 2);
    if (next_open != absl::string_view::npos && next_open < close) {
      return absl::InvalidArgumentError("unbalanced \"<<\" (nested)");
    }
    annotations.emplace_back(text.substr(open + 2, close - open - 2));
    pos = close + 2;
  }
  return annotations;
}

std::string StripAnnotations(absl::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("<<", pos);
    const size_t close = open == absl::string_view::npos ? open : text.find(">>", open);
    if (close == absl::string_view::npos) break;
    absl::StrAppend(&out, text.substr(pos, open - pos));
    pos = close + 2;
  }
  absl::StrAppend(&out, text.substr(pos));
  return out;
}

bool IsNumber(absl::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  int digits = 0, dots = 0;
  for (char c : text) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return false;
    }
  }
  return digits > 0 && dots <= 1;
}

absl::StatusOr<Gsm8kExample> ParseGsm8kLine(absl::string_view line, absl::string_view where) {
  Json json = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return LineError(where, "bad JSON");
  if (!json.is_object()) return LineError(where, "expected a JSON object");
  Gsm8kExample example;
  auto question = StringField(json, "question", where);
  if (!question.ok()) return question.status();
  auto answer = StringField(json, "answer", where);
  if (!answer.ok()) return answer.status();
  example.question = std::move(*question);
  const size_t hashes = answer->rfind("####");
  if (hashes == std::string::npos) {
    return LineError(where, "answer has no \"#### N\" final answer");
  }
  const absl::string_view chain = absl::string_view(*answer).substr(0, hashes);
  if (auto annotations = CalculatorAnnotations(chain); !annotations.ok()) {
    return LineError(where, absl::StrCat(annotations.status().message(), " in the answer"));
  }
  example.answer = absl::StrReplaceAll(
      absl::StripAsciiWhitespace(absl::string_view(*answer).substr(hashes + 4)), {{",", ""}});
  if (!IsNumber(example.answer)) {
    return LineError(where, absl::StrCat("final answer \"", example.answer, "\" is not a number"));
  }
  example.steps = SplitSteps(chain);
  example.chain_length = static_cast<int>(example.steps.size());
  if (absl::Status status = ReadOptionalFields(json, where, example); !status.ok()) return status;
  return example;
}

absl::StatusOr<std::vector<Gsm8kExample>> ReadGsm8kJsonl(const std::string& path,
                                                         std::optional<std::string> split) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open data file ", path));
  std::vector<Gsm8kExample> examples;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<Gsm8kExample> example = ParseGsm8kLine(line, absl::StrCat(path, ":", number));
    if (!example.ok()) return example.status();
    if (!split || example->split == *split) examples.push_back(std::move(*example));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return examples;
}

std::string Gsm8kLine(const Gsm8kExample& example) {
  Json json = {{"question", example.question},
               {"answer", absl::StrCat(absl::StrJoin(example.steps, "\n"), "\n#### ",
                                       example.answer)},
               {"chain_length", example.chain_length}};
  if (!example.split.empty()) json["split"] = example.split;
  return json.dump();
}

}  // namespace libra::data
