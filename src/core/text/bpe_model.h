// The BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE"}).
//
// A word (one pre-tokenized piece, already mapped to the vocabulary's
// alphabet) starts as one symbol per UTF-8 character; the adjacent pair with
// the lowest merge rank is merged, leftmost first, until no pair has a merge.
// A character missing from the vocabulary becomes its UTF-8 bytes as
// "<0xNN>" tokens when byte_fallback is on (SentencePiece-style BPE of
// Llama-2/Mistral), else the unknown token (consecutive ones fused when
// fuse_unk). ignore_merges (Llama-3) emits a word found whole in the
// vocabulary directly.
//
//   LIBRA_ASSIGN_OR_RETURN(BpeModel bpe, BpeModel::FromJson(config["model"]));
//   std::vector<int32_t> ids;
//   LIBRA_RETURN_IF_ERROR(bpe.Tokenize("Ġhello", &ids));
#ifndef LIBRA_CORE_TEXT_BPE_MODEL_H_
#define LIBRA_CORE_TEXT_BPE_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace libra::text {

class BpeModel {
 public:
  struct Options {
    std::optional<std::string> unk_token;
    bool byte_fallback = false;
    bool fuse_unk = false;
    bool ignore_merges = false;
  };

  // From the "model" object of tokenizer.json. Merges may be "a b" strings or
  // ["a", "b"] pairs; each part and the merged token must be in the vocab.
  static absl::StatusOr<BpeModel> FromJson(const nlohmann::json& model);
  // Merges listed by rank (index 0 merges first).
  static absl::StatusOr<BpeModel> Create(std::vector<std::pair<std::string, int32_t>> vocab,
                                         const std::vector<std::pair<std::string, std::string>>& merges,
                                         Options options);

  // Appends the ids of `word`. Fails only when a character has no token, no
  // byte fallback and there is no unknown token.
  absl::Status Tokenize(absl::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(absl::string_view token) const;
  // nullptr for an id the vocab does not hold (gaps are allowed).
  const std::string* IdToToken(int32_t id) const;
  // One past the largest vocab id.
  int32_t end_id() const { return static_cast<int32_t>(tokens_by_id_.size()); }
  std::optional<int32_t> unk_id() const { return unk_id_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  int32_t RankOf(int32_t left, int32_t right) const;

  std::unordered_map<std::string, int32_t> ids_by_token_;
  std::vector<std::string> tokens_by_id_;
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<int32_t> unk_id_;
  int32_t byte_ids_[256];  // "<0xNN>" ids, -1 where missing
  Options options_;
};

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_BPE_MODEL_H_
