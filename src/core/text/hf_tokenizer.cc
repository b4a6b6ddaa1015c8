#include "src/core/text/hf_tokenizer.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "src/core/io/json_integer.h"
#include "src/core/status_macros.h"
#include "src/core/text/byte_unicode.h"
#include "src/core/text/utf8.h"

namespace libra::text {
namespace {

using Json = nlohmann::json;

// Errors name the file and the JSON field: `tokenizer.json (dir/tokenizer.json):
// pre_tokenizer: type "Whitespace" is not supported (...)`.
class ErrorContext {
 public:
  explicit ErrorContext(const std::string& source) : source_(source) {}
  absl::Status Error(absl::string_view field, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", field, ": ", what));
  }

 private:
  std::string source_;
};

std::string TypeOf(const Json& object) {
  auto it = object.find("type");
  return (it != object.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

absl::StatusOr<std::string> StringField(const Json& object, const char* key,
                                        const ErrorContext& context, absl::string_view field) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return context.Error(field, absl::StrCat("\"", key, "\" must be a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<bool> BoolField(const Json& object, const char* key, bool default_value,
                               const ErrorContext& context, absl::string_view field) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return default_value;
  if (!it->is_boolean()) return context.Error(field, absl::StrCat("\"", key, "\" must be a bool"));
  return it->get<bool>();
}

// {"String": "x"} patterns only; regex patterns are not used by the supported
// normalizers and decoders.
absl::StatusOr<std::string> StringPattern(const Json& object, const ErrorContext& context,
                                          absl::string_view field) {
  auto it = object.find("pattern");
  if (it == object.end() || !it->is_object() || !it->contains("String") ||
      !(*it)["String"].is_string()) {
    return context.Error(field, "only {\"String\": ...} patterns are supported");
  }
  return (*it)["String"].get<std::string>();
}

// Flattens {"type": "Sequence", "<list_key>": [...]} into its members.
absl::StatusOr<std::vector<const Json*>> Flatten(const Json& node, const char* list_key,
                                                 const ErrorContext& context,
                                                 absl::string_view field) {
  std::vector<const Json*> out;
  if (node.is_null()) return out;
  if (!node.is_object()) return context.Error(field, "expected an object or null");
  if (TypeOf(node) != "Sequence") {
    out.push_back(&node);
    return out;
  }
  auto it = node.find(list_key);
  if (it == node.end() || !it->is_array()) {
    return context.Error(field, absl::StrCat("Sequence needs an array \"", list_key, "\""));
  }
  for (const Json& member : *it) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<const Json*> inner, Flatten(member, list_key, context, field));
    out.insert(out.end(), inner.begin(), inner.end());
  }
  return out;
}

absl::StatusOr<std::vector<HfTokenizer::NormalizerStep>> ParseNormalizers(
    const Json& node, const ErrorContext& context) {
  using Step = HfTokenizer::NormalizerStep;
  std::vector<Step> steps;
  LIBRA_ASSIGN_OR_RETURN(std::vector<const Json*> members,
                         Flatten(node, "normalizers", context, "normalizer"));
  for (const Json* member : members) {
    const std::string type = TypeOf(*member);
    if (type == "Prepend") {
      LIBRA_ASSIGN_OR_RETURN(std::string prefix, StringField(*member, "prepend", context, "normalizer"));
      steps.push_back({Step::Kind::kPrepend, "", std::move(prefix)});
    } else if (type == "Replace") {
      LIBRA_ASSIGN_OR_RETURN(std::string pattern, StringPattern(*member, context, "normalizer"));
      LIBRA_ASSIGN_OR_RETURN(std::string content, StringField(*member, "content", context, "normalizer"));
      if (pattern.empty()) return context.Error("normalizer", "Replace with an empty pattern");
      steps.push_back({Step::Kind::kReplace, std::move(pattern), std::move(content)});
    } else if (type != "NFC") {
      return context.Error("normalizer", absl::StrCat("type \"", type,
                                                      "\" is not supported (supported: Prepend, "
                                                      "Replace, NFC, Sequence)"));
    }
  }
  return steps;
}

absl::StatusOr<std::vector<HfTokenizer::PreTokenizerStep>> ParsePreTokenizers(
    const Json& node, const ErrorContext& context) {
  using Step = HfTokenizer::PreTokenizerStep;
  constexpr absl::string_view kField = "pre_tokenizer";
  std::vector<Step> steps;
  LIBRA_ASSIGN_OR_RETURN(std::vector<const Json*> members,
                         Flatten(node, "pretokenizers", context, kField));
  for (const Json* member : members) {
    const std::string type = TypeOf(*member);
    Step step;
    if (type == "ByteLevel") {
      step.kind = Step::Kind::kByteLevel;
      LIBRA_ASSIGN_OR_RETURN(step.add_prefix_space,
                             BoolField(*member, "add_prefix_space", false, context, kField));
      LIBRA_ASSIGN_OR_RETURN(step.use_regex, BoolField(*member, "use_regex", true, context, kField));
    } else if (type == "Split") {
      step.kind = Step::Kind::kSplit;
      auto pattern = member->find("pattern");
      if (pattern == member->end() || !pattern->is_object() || !pattern->contains("Regex") ||
          !(*pattern)["Regex"].is_string()) {
        return context.Error(kField, "Split needs {\"Regex\": ...} as its pattern");
      }
      const std::string source = (*pattern)["Regex"].get<std::string>();
      std::optional<PreTokenizerRegex> regex = FindPreTokenizerRegex(source);
      if (!regex) {
        return context.Error(kField, absl::StrCat("Split regex ", Json(source).dump(),
                                                  " is not supported (supported: the GPT-2, "
                                                  "Llama-3 and Qwen2 patterns)"));
      }
      LIBRA_ASSIGN_OR_RETURN(bool invert, BoolField(*member, "invert", false, context, kField));
      auto behavior = member->find("behavior");
      if (invert || behavior == member->end() || *behavior != "Isolated") {
        return context.Error(kField, "Split is supported with behavior \"Isolated\" and no invert");
      }
      step.regex = *regex;
    } else if (type == "Metaspace") {
      step.kind = Step::Kind::kMetaspace;
      LIBRA_ASSIGN_OR_RETURN(step.replacement, StringField(*member, "replacement", context, kField));
      if (step.replacement.empty()) return context.Error(kField, "Metaspace needs a replacement");
      LIBRA_ASSIGN_OR_RETURN(step.split, BoolField(*member, "split", true, context, kField));
      auto scheme = member->find("prepend_scheme");
      if (scheme != member->end() && scheme->is_string()) {
        const std::string value = scheme->get<std::string>();
        if (value == "always") {
          step.prepend = Step::Prepend::kAlways;
        } else if (value == "first") {
          step.prepend = Step::Prepend::kFirst;
        } else if (value == "never") {
          step.prepend = Step::Prepend::kNever;
        } else {
          return context.Error(kField, absl::StrCat("unknown prepend_scheme \"", value, "\""));
        }
      } else {
        LIBRA_ASSIGN_OR_RETURN(bool add_prefix_space,
                               BoolField(*member, "add_prefix_space", true, context, kField));
        step.prepend = add_prefix_space ? Step::Prepend::kAlways : Step::Prepend::kNever;
      }
    } else {
      return context.Error(kField, absl::StrCat("type \"", type,
                                                "\" is not supported (supported: ByteLevel, "
                                                "Split, Metaspace, Sequence)"));
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

absl::StatusOr<std::vector<HfTokenizer::DecoderStep>> ParseDecoders(const Json& node,
                                                                    const ErrorContext& context) {
  using Step = HfTokenizer::DecoderStep;
  constexpr absl::string_view kField = "decoder";
  std::vector<Step> steps;
  LIBRA_ASSIGN_OR_RETURN(std::vector<const Json*> members, Flatten(node, "decoders", context, kField));
  for (const Json* member : members) {
    const std::string type = TypeOf(*member);
    Step step;
    if (type == "ByteLevel") {
      step.kind = Step::Kind::kByteLevel;
    } else if (type == "Replace") {
      step.kind = Step::Kind::kReplace;
      LIBRA_ASSIGN_OR_RETURN(step.pattern, StringPattern(*member, context, kField));
      LIBRA_ASSIGN_OR_RETURN(step.content, StringField(*member, "content", context, kField));
      if (step.pattern.empty()) return context.Error(kField, "Replace with an empty pattern");
    } else if (type == "ByteFallback") {
      step.kind = Step::Kind::kByteFallback;
    } else if (type == "Fuse") {
      step.kind = Step::Kind::kFuse;
    } else if (type == "Strip") {
      step.kind = Step::Kind::kStrip;
      LIBRA_ASSIGN_OR_RETURN(step.pattern, StringField(*member, "content", context, kField));
      auto start = member->find("start");
      auto stop = member->find("stop");
      if (start == member->end() || !start->is_number_unsigned() || stop == member->end() ||
          !stop->is_number_unsigned()) {
        return context.Error(kField, "Strip needs non-negative integers \"start\" and \"stop\"");
      }
      step.start = static_cast<int>(std::min<uint64_t>(start->get<uint64_t>(), 1 << 20));
      step.stop = static_cast<int>(std::min<uint64_t>(stop->get<uint64_t>(), 1 << 20));
    } else if (type == "Metaspace") {
      step.kind = Step::Kind::kMetaspace;
      LIBRA_ASSIGN_OR_RETURN(step.content, StringField(*member, "replacement", context, kField));
      auto scheme = member->find("prepend_scheme");
      if (scheme != member->end() && scheme->is_string()) {
        step.strip_first_space = scheme->get<std::string>() != "never";
      } else {
        LIBRA_ASSIGN_OR_RETURN(step.strip_first_space,
                               BoolField(*member, "add_prefix_space", true, context, kField));
      }
    } else {
      return context.Error(kField, absl::StrCat("type \"", type,
                                                "\" is not supported (supported: ByteLevel, "
                                                "Replace, ByteFallback, Fuse, Strip, Metaspace, "
                                                "Sequence)"));
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

// Token name -> id, through added tokens first, for the post-processor.
struct PostProcessorIds {
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;
};

// A token id as tokenizer.json writes it: a whole number from 0 to 2^31 - 1,
// checked before it is narrowed to int32.
bool IsTokenId(const Json& value) {
  return JsonInteger(value, 0, std::numeric_limits<int32_t>::max()).has_value();
}

absl::StatusOr<int32_t> IdOfPair(const Json& pair, const ErrorContext& context) {
  if (!pair.is_array() || pair.size() != 2 || !IsTokenId(pair[1])) {
    return context.Error("post_processor", "expected [token, id] pairs for cls and sep");
  }
  return pair[1].get<int32_t>();
}

absl::Status ParsePostProcessor(const Json& node, const ErrorContext& context,
                                PostProcessorIds* ids) {
  constexpr absl::string_view kField = "post_processor";
  LIBRA_ASSIGN_OR_RETURN(std::vector<const Json*> members,
                         Flatten(node, "processors", context, kField));
  for (const Json* member : members) {
    const std::string type = TypeOf(*member);
    if (type == "ByteLevel") continue;  // only adjusts offsets
    if (type == "RobertaProcessing" || type == "BertProcessing") {
      if (!member->contains("cls") || !member->contains("sep")) {
        return context.Error(kField, absl::StrCat(type, " needs \"cls\" and \"sep\""));
      }
      LIBRA_ASSIGN_OR_RETURN(int32_t cls, IdOfPair((*member)["cls"], context));
      LIBRA_ASSIGN_OR_RETURN(int32_t sep, IdOfPair((*member)["sep"], context));
      ids->prefix = {cls};
      ids->suffix = {sep};
      continue;
    }
    if (type != "TemplateProcessing") {
      return context.Error(kField, absl::StrCat("type \"", type,
                                                "\" is not supported (supported: "
                                                "TemplateProcessing, RobertaProcessing, "
                                                "BertProcessing, ByteLevel, Sequence)"));
    }
    auto single = member->find("single");
    auto specials = member->find("special_tokens");
    if (single == member->end() || !single->is_array()) {
      return context.Error(kField, "TemplateProcessing needs an array \"single\"");
    }
    ids->prefix.clear();
    ids->suffix.clear();
    bool after_sequence = false;
    for (const Json& piece : *single) {
      if (piece.is_object() && piece.contains("Sequence")) {
        after_sequence = true;
        continue;
      }
      if (!piece.is_object() || !piece.contains("SpecialToken") ||
          !piece["SpecialToken"].is_object() || !piece["SpecialToken"].contains("id") ||
          !piece["SpecialToken"]["id"].is_string()) {
        return context.Error(kField, absl::StrCat("bad template piece ", piece.dump()));
      }
      const std::string name = piece["SpecialToken"]["id"].get<std::string>();
      if (specials == member->end() || !specials->is_object() || !specials->contains(name) ||
          !(*specials)[name].is_object() || !(*specials)[name].contains("ids") ||
          !(*specials)[name]["ids"].is_array()) {
        return context.Error(kField, absl::StrCat("special token \"", name,
                                                  "\" has no \"ids\" in special_tokens"));
      }
      for (const Json& id : (*specials)[name]["ids"]) {
        if (!IsTokenId(id)) {
          return context.Error(kField, absl::StrCat("special token \"", name, "\": bad id"));
        }
        (after_sequence ? ids->suffix : ids->prefix).push_back(id.get<int32_t>());
      }
    }
  }
  return absl::OkStatus();
}

// Splits before every occurrence of `delimiter`, keeping it at the start of
// the following piece ("a▁b▁c" -> "a", "▁b", "▁c").
std::vector<std::string> SplitMergedWithNext(const std::string& text, const std::string& delimiter) {
  std::vector<std::string> pieces;
  size_t start = 0;
  for (size_t next = text.find(delimiter, 1); next != std::string::npos;
       next = text.find(delimiter, next + delimiter.size())) {
    pieces.push_back(text.substr(start, next - start));
    start = next;
  }
  if (start < text.size()) pieces.push_back(text.substr(start));
  return pieces;
}

bool IsByteToken(absl::string_view token, uint8_t* byte) {
  if (token.size() != 6 || !absl::StartsWith(token, "<0x") || token[5] != '>') return false;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value |= c - 'A' + 10;
    } else {
      return false;
    }
  }
  *byte = static_cast<uint8_t>(value);
  return true;
}

std::vector<std::string> ApplyDecoder(const HfTokenizer::DecoderStep& step,
                                      std::vector<std::string> tokens) {
  using Kind = HfTokenizer::DecoderStep::Kind;
  switch (step.kind) {
    case Kind::kByteLevel:
      return {UnicodeToBytes(absl::StrJoin(tokens, ""))};
    case Kind::kFuse:
      return {absl::StrJoin(tokens, "")};
    case Kind::kReplace:
      for (std::string& token : tokens) {
        token = absl::StrReplaceAll(token, {{step.pattern, step.content}});
      }
      return tokens;
    case Kind::kByteFallback: {
      std::vector<std::string> out;
      std::string bytes;
      const auto flush = [&]() {
        if (bytes.empty()) return;
        if (IsValidUtf8(bytes)) {
          out.push_back(bytes);
        } else {
          std::string replacement;
          for (size_t i = 0; i < bytes.size(); ++i) replacement += "\xEF\xBF\xBD";  // U+FFFD
          out.push_back(replacement);
        }
        bytes.clear();
      };
      for (std::string& token : tokens) {
        uint8_t byte;
        if (IsByteToken(token, &byte)) {
          bytes.push_back(static_cast<char>(byte));
        } else {
          flush();
          out.push_back(std::move(token));
        }
      }
      flush();
      return out;
    }
    case Kind::kStrip:
      for (std::string& token : tokens) {
        absl::string_view view = token;
        for (int i = 0; i < step.start && absl::ConsumePrefix(&view, step.pattern); ++i) {
        }
        for (int i = 0; i < step.stop && absl::ConsumeSuffix(&view, step.pattern); ++i) {
        }
        token = std::string(view);
      }
      return tokens;
    case Kind::kMetaspace:
      // As Hugging Face does: every replacement character of the first token
      // is dropped (it stands for the prepended space), later ones become ' '.
      for (size_t i = 0; i < tokens.size(); ++i) {
        const bool drop = i == 0 && step.strip_first_space;
        tokens[i] = absl::StrReplaceAll(tokens[i], {{step.content, drop ? "" : " "}});
      }
      return tokens;
  }
  return tokens;
}

std::optional<int32_t> FirstKnown(const HfTokenizer& tokenizer,
                                  std::initializer_list<absl::string_view> names) {
  for (absl::string_view name : names) {
    if (auto id = tokenizer.TokenToId(name)) return id;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<HfTokenizer> HfTokenizer::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open tokenizer file ", path));
  // Refused before reading: the largest real tokenizer.json files are about 35 MB.
  if (static_cast<uint64_t>(in.tellg()) > kMaxTokenizerFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer file is ", static_cast<uint64_t>(in.tellg()),
                                                   " bytes, over the ", kMaxTokenizerFileBytes, "-byte limit (",
                                                   path, ")"));
  }
  in.seekg(0);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read tokenizer file ", path));
  return FromJsonString(contents.str(), path);
}

absl::StatusOr<HfTokenizer> HfTokenizer::FromJsonString(absl::string_view json_text,
                                                        const std::string& source_name) {
  const ErrorContext context(source_name);
  HfTokenizer tokenizer;
  tokenizer.source_name_ = source_name;
  tokenizer.json_ = Json::parse(json_text.begin(), json_text.end(), nullptr,
                                /*allow_exceptions=*/false);
  const Json& json = tokenizer.json_;
  if (json.is_discarded()) return context.Error("file", "not valid JSON");
  if (!json.is_object()) return context.Error("file", "expected a JSON object");
  if (!json.contains("model")) return context.Error("model", "missing");
  {
    auto bpe = BpeModel::FromJson(json["model"]);
    if (!bpe.ok()) return context.Error("model", bpe.status().message());
    tokenizer.bpe_ = std::move(*bpe);
  }
  const Json null_json;
  const auto field = [&](const char* key) -> const Json& {
    auto it = json.find(key);
    return it == json.end() ? null_json : *it;
  };
  LIBRA_ASSIGN_OR_RETURN(tokenizer.normalizers_, ParseNormalizers(field("normalizer"), context));
  LIBRA_ASSIGN_OR_RETURN(tokenizer.pre_tokenizers_,
                         ParsePreTokenizers(field("pre_tokenizer"), context));
  LIBRA_ASSIGN_OR_RETURN(tokenizer.decoders_, ParseDecoders(field("decoder"), context));
  PostProcessorIds post;
  LIBRA_RETURN_IF_ERROR(ParsePostProcessor(field("post_processor"), context, &post));
  tokenizer.prefix_ids_ = std::move(post.prefix);
  tokenizer.suffix_ids_ = std::move(post.suffix);

  const Json& added = field("added_tokens");
  if (!added.is_null() && !added.is_array()) return context.Error("added_tokens", "expected an array");
  for (const Json& entry : added.is_array() ? added : Json::array()) {
    if (!entry.is_object() || !entry.contains("id") || !IsTokenId(entry["id"]) ||
        !entry.contains("content") || !entry["content"].is_string()) {
      return context.Error("added_tokens", absl::StrCat("entry ", entry.dump(),
                                                        " needs an integer id (0 to 2^31 - 1)"
                                                        " and a content"));
    }
    AddedToken token;
    token.id = entry["id"].get<int32_t>();
    token.content = entry["content"].get<std::string>();
    LIBRA_ASSIGN_OR_RETURN(token.special, BoolField(entry, "special", false, context, "added_tokens"));
    LIBRA_ASSIGN_OR_RETURN(token.lstrip, BoolField(entry, "lstrip", false, context, "added_tokens"));
    LIBRA_ASSIGN_OR_RETURN(token.rstrip, BoolField(entry, "rstrip", false, context, "added_tokens"));
    LIBRA_ASSIGN_OR_RETURN(token.single_word,
                           BoolField(entry, "single_word", false, context, "added_tokens"));
    if (token.id >= (1 << 24)) return context.Error("added_tokens", "id past 2^24");
    if (absl::Status status = tokenizer.added_.Add(std::move(token)); !status.ok()) {
      return context.Error("added_tokens", status.message());
    }
  }
  for (const std::vector<int32_t>* ids : {&tokenizer.prefix_ids_, &tokenizer.suffix_ids_}) {
    for (int32_t id : *ids) {
      if (id < 0 || id >= tokenizer.vocab_size()) {
        return context.Error("post_processor", absl::StrCat("id ", id, " is outside the vocab"));
      }
    }
  }
  return tokenizer;
}

absl::Status HfTokenizer::EncodeSegment(absl::string_view segment, bool at_text_start,
                                        std::vector<int32_t>* ids) const {
  using Kind = PreTokenizerStep::Kind;
  std::string normalized(segment);
  for (const NormalizerStep& step : normalizers_) {
    if (step.kind == NormalizerStep::Kind::kPrepend) {
      if (!normalized.empty()) normalized.insert(0, step.content);
    } else {
      normalized = absl::StrReplaceAll(normalized, {{step.pattern, step.content}});
    }
  }
  std::vector<std::string> pieces = {std::move(normalized)};
  for (const PreTokenizerStep& step : pre_tokenizers_) {
    std::vector<std::string> next;
    for (size_t p = 0; p < pieces.size(); ++p) {
      std::string piece = std::move(pieces[p]);
      switch (step.kind) {
        case Kind::kByteLevel: {
          if (step.add_prefix_space && !absl::StartsWith(piece, " ")) piece.insert(0, " ");
          if (step.use_regex) {
            for (absl::string_view part : PreTokenize(PreTokenizerRegex::kGpt2, piece)) {
              next.push_back(BytesToUnicode(part));
            }
          } else {
            next.push_back(BytesToUnicode(piece));
          }
          break;
        }
        case Kind::kSplit:
          for (absl::string_view part : PreTokenize(step.regex, piece)) next.emplace_back(part);
          break;
        case Kind::kMetaspace: {
          piece = absl::StrReplaceAll(piece, {{" ", step.replacement}});
          const bool prepend =
              step.prepend == PreTokenizerStep::Prepend::kAlways ||
              (step.prepend == PreTokenizerStep::Prepend::kFirst && at_text_start && p == 0);
          if (prepend && !absl::StartsWith(piece, step.replacement)) piece.insert(0, step.replacement);
          if (step.split) {
            for (std::string& part : SplitMergedWithNext(piece, step.replacement)) {
              next.push_back(std::move(part));
            }
          } else {
            next.push_back(std::move(piece));
          }
          break;
        }
      }
    }
    pieces = std::move(next);
  }
  for (const std::string& piece : pieces) LIBRA_RETURN_IF_ERROR(bpe_->Tokenize(piece, ids));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> HfTokenizer::Encode(absl::string_view text,
                                                         const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  if (options.add_special_tokens) ids = prefix_ids_;
  for (const AddedVocabulary::Segment& segment :
       added_.Split(text, options.split_special_tokens)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else {
      LIBRA_RETURN_IF_ERROR(EncodeSegment(segment.text, segment.text.data() == text.data(), &ids));
    }
  }
  if (options.add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

absl::StatusOr<std::string> HfTokenizer::Decode(absl::Span<const int32_t> ids,
                                                const DecodeOptions& options) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* added = added_.FindById(id)) {
      if (!(added->special && options.skip_special_tokens)) tokens.push_back(added->content);
      continue;
    }
    const std::string* token = bpe_->IdToToken(id);
    if (token == nullptr) {
      return absl::OutOfRangeError(absl::StrCat(source_name_, ": id ", id, " is not in the vocab (size ",
                                                vocab_size(), ")"));
    }
    tokens.push_back(*token);
  }
  for (const DecoderStep& step : decoders_) tokens = ApplyDecoder(step, std::move(tokens));
  return absl::StrJoin(tokens, "");
}

int32_t HfTokenizer::vocab_size() const { return std::max(bpe_->end_id(), added_.end_id()); }

std::optional<int32_t> HfTokenizer::TokenToId(absl::string_view token) const {
  if (const AddedToken* added = added_.FindByContent(token)) return added->id;
  return bpe_->TokenToId(token);
}

absl::StatusOr<std::string> HfTokenizer::IdToToken(int32_t id) const {
  if (const AddedToken* added = added_.FindById(id)) return added->content;
  if (const std::string* token = bpe_->IdToToken(id)) return *token;
  return absl::OutOfRangeError(absl::StrCat(source_name_, ": id ", id, " is not in the vocab"));
}

SpecialIds HfTokenizer::special_ids() const {
  SpecialIds ids;
  ids.bos = prefix_ids_.empty()
                ? FirstKnown(*this, {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"})
                : std::optional<int32_t>(prefix_ids_.front());
  ids.eos = FirstKnown(*this, {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
  ids.unk = bpe_->unk_id() ? bpe_->unk_id() : FirstKnown(*this, {"<unk>", "<|unk|>"});
  ids.pad = FirstKnown(*this, {"<pad>", "<|pad|>", "[PAD]"});
  ids.sep = FirstKnown(*this, {"<sep>", "[SEP]"});
  return ids;
}

absl::StatusOr<std::vector<int32_t>> HfTokenizer::AddTokens(absl::Span<const std::string> contents,
                                                            bool special) {
  std::vector<int32_t> ids;
  for (const std::string& content : contents) {
    if (std::optional<int32_t> existing = TokenToId(content)) {
      ids.push_back(*existing);
      continue;
    }
    const int32_t id = vocab_size();
    LIBRA_RETURN_IF_ERROR(added_.Add({id, content, special}));
    if (!json_.contains("added_tokens") || !json_["added_tokens"].is_array()) {
      json_["added_tokens"] = Json::array();
    }
    json_["added_tokens"].push_back({{"id", id},
                                     {"content", content},
                                     {"single_word", false},
                                     {"lstrip", false},
                                     {"rstrip", false},
                                     {"normalized", !special},
                                     {"special", special}});
    ids.push_back(id);
  }
  return ids;
}

std::string HfTokenizer::ToJsonString() const {
  // Replace invalid UTF-8 rather than throw: the core never throws.
  return json_.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace libra::text
