#include "src/core/text/byte_tokenizer.h"

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"

namespace libra::text {

ByteTokenizer::ByteTokenizer() {
  // Ids are fixed and distinct, so these cannot fail.
  added_.Add({kPadId, "<pad>", true}).IgnoreError();
  added_.Add({kBosId, "<bos>", true}).IgnoreError();
  added_.Add({kEosId, "<eos>", true}).IgnoreError();
  added_.Add({kSepId, "<sep>", true}).IgnoreError();
}

absl::StatusOr<std::vector<int32_t>> ByteTokenizer::Encode(absl::string_view text,
                                                           const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() + 1);
  if (options.add_special_tokens) ids.push_back(kBosId);
  for (const AddedVocabulary::Segment& segment :
       added_.Split(text, options.split_special_tokens)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    for (char c : segment.text) ids.push_back(static_cast<unsigned char>(c));
  }
  return ids;
}

absl::StatusOr<std::string> ByteTokenizer::Decode(absl::Span<const int32_t> ids,
                                                  const DecodeOptions& options) const {
  std::string text;
  text.reserve(ids.size());
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) {
      text.push_back(static_cast<char>(id));
      continue;
    }
    const AddedToken* token = added_.FindById(id);
    if (token == nullptr) {
      return absl::OutOfRangeError(
          absl::StrCat("byte tokenizer: id ", id, " outside [0, ", vocab_size(), ")"));
    }
    if (token->special && options.skip_special_tokens) continue;
    text += token->content;
  }
  return text;
}

std::optional<int32_t> ByteTokenizer::TokenToId(absl::string_view token) const {
  if (const AddedToken* added = added_.FindByContent(token)) return added->id;
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  return std::nullopt;
}

absl::StatusOr<std::string> ByteTokenizer::IdToToken(int32_t id) const {
  if (id >= 0 && id < 256) return std::string(1, static_cast<char>(id));
  if (const AddedToken* token = added_.FindById(id)) return token->content;
  return absl::OutOfRangeError(
      absl::StrCat("byte tokenizer: id ", id, " outside [0, ", vocab_size(), ")"));
}

SpecialIds ByteTokenizer::special_ids() const {
  SpecialIds ids;
  ids.pad = kPadId;
  ids.bos = kBosId;
  ids.eos = kEosId;
  ids.sep = kSepId;
  return ids;
}

absl::StatusOr<std::vector<int32_t>> ByteTokenizer::AddTokens(
    absl::Span<const std::string> contents, bool special) {
  std::vector<int32_t> ids;
  for (const std::string& content : contents) {
    if (const AddedToken* existing = added_.FindByContent(content)) {
      ids.push_back(existing->id);
      continue;
    }
    if (content.size() == 1) {  // a single byte already has its own id
      ids.push_back(static_cast<unsigned char>(content[0]));
      continue;
    }
    const int32_t id = vocab_size();
    LIBRA_RETURN_IF_ERROR(added_.Add({id, content, special}));
    ids.push_back(id);
  }
  return ids;
}

}  // namespace libra::text
