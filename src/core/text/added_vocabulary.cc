#include "src/core/text/added_vocabulary.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace libra::text {
namespace {

bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsWordByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
         u == '_' || u >= 0x80;
}

}  // namespace

absl::Status AddedVocabulary::Add(AddedToken token) {
  if (token.content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("added token ", token.id, ": empty content"));
  }
  if (token.id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("added token \"", token.content, "\": negative id ", token.id));
  }
  if (const AddedToken* same = FindByContent(token.content)) {
    if (same->id == token.id) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("added token \"", token.content, "\": id ",
                                                   token.id, " but already has id ", same->id));
  }
  if (const AddedToken* same = FindById(token.id)) {
    return absl::InvalidArgumentError(absl::StrCat("added token \"", token.content, "\": id ",
                                                   token.id, " already used by \"",
                                                   same->content, "\""));
  }
  end_id_ = std::max(end_id_, token.id + 1);
  starts_token_[static_cast<unsigned char>(token.content[0])] = true;
  index_by_id_[token.id] = tokens_.size();
  index_by_content_[token.content] = tokens_.size();
  tokens_.push_back(std::move(token));
  return absl::OkStatus();
}

const AddedToken* AddedVocabulary::FindByContent(absl::string_view content) const {
  auto it = index_by_content_.find(std::string(content));
  return it == index_by_content_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::Split(absl::string_view text,
                                                             bool match_special) const {
  std::vector<Segment> segments;
  size_t plain_start = 0;  // start of the pending ordinary text
  size_t pos = 0;
  while (pos < text.size()) {
    if (!starts_token_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const AddedToken* best = nullptr;
    for (const AddedToken& token : tokens_) {
      if (token.special && !match_special) continue;
      if (text.compare(pos, token.content.size(), token.content) != 0) continue;
      if (best != nullptr && best->content.size() >= token.content.size()) continue;
      const size_t end = pos + token.content.size();
      if (token.single_word && ((pos > 0 && IsWordByte(text[pos - 1])) ||
                                (end < text.size() && IsWordByte(text[end])))) {
        continue;
      }
      best = &token;
    }
    if (best == nullptr) {
      ++pos;
      continue;
    }
    size_t match_start = pos;
    size_t match_end = pos + best->content.size();
    if (best->lstrip) {
      while (match_start > plain_start && IsSpace(text[match_start - 1])) --match_start;
    }
    if (best->rstrip) {
      while (match_end < text.size() && IsSpace(text[match_end])) ++match_end;
    }
    if (match_start > plain_start) {
      segments.push_back({text.substr(plain_start, match_start - plain_start), -1});
    }
    segments.push_back({text.substr(match_start, match_end - match_start), best->id});
    pos = plain_start = match_end;
  }
  if (plain_start < text.size()) segments.push_back({text.substr(plain_start), -1});
  return segments;
}

}  // namespace libra::text
