// Tokens that are matched in raw text before normalisation and BPE: special
// tokens ("<s>", "<|endoftext|>") and tokens added later (planning tokens).
//
// Matching is leftmost, then longest, like Hugging Face tokenizers. Per-token
// flags follow tokenizer.json's "added_tokens": lstrip/rstrip swallow the
// whitespace on that side, single_word only matches outside words.
//
//   AddedVocabulary added;
//   LIBRA_RETURN_IF_ERROR(added.Add({.id = 5, .content = "<eos>", .special = true}));
//   for (const AddedVocabulary::Segment& s : added.Split("hi<eos>", true)) {
//     // {"hi", -1}, {"<eos>", 5}
//   }
#ifndef LIBRA_CORE_TEXT_ADDED_VOCABULARY_H_
#define LIBRA_CORE_TEXT_ADDED_VOCABULARY_H_

#include <cstdint>
#include <utility>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace libra::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

class AddedVocabulary {
 public:
  struct Segment {
    absl::string_view text;
    int32_t id = -1;  // the added token's id, or -1 for ordinary text
  };

  // Rejects empty content, a negative id, or content/id already used by a
  // different entry.
  absl::Status Add(AddedToken token);

  const AddedToken* FindByContent(absl::string_view content) const;
  const AddedToken* FindById(int32_t id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // One past the largest added id, or 0 when empty.
  int32_t end_id() const { return end_id_; }

  // Splits `text` into ordinary segments and added tokens, in order. Special
  // tokens are matched only when `match_special`. Empty ordinary segments are
  // left out.
  std::vector<Segment> Split(absl::string_view text, bool match_special) const;

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> index_by_id_;
  std::unordered_map<std::string, size_t> index_by_content_;
  int32_t end_id_ = 0;
  bool starts_token_[256] = {};  // bytes that begin some token: a cheap pre-check

};

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_ADDED_VOCABULARY_H_
