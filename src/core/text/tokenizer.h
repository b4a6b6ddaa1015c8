// The interface every libra tokenizer implements: text to ids and back,
// special ids, and adding tokens (planning tokens) after loading.
//
//   std::unique_ptr<Tokenizer> tokenizer = ...;  // ByteTokenizer, HfTokenizer
//   LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer->Encode("Sort: 3 1 2"));
//   LIBRA_ASSIGN_OR_RETURN(std::string text, tokenizer->Decode(ids));
//   LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> added,
//                          tokenizer->AddTokens({"<plan_1>", "<plan_2>"}, /*special=*/true));
//   // the model grows its embeddings to tokenizer->vocab_size()
#ifndef LIBRA_CORE_TEXT_TOKENIZER_H_
#define LIBRA_CORE_TEXT_TOKENIZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace libra::text {

struct EncodeOptions {
  // Adds what the tokenizer's template puts around a sequence (e.g. BOS).
  bool add_special_tokens = false;
  // Recognises special tokens written in the text ("<eos>") as those tokens;
  // when false they are encoded as ordinary text. Non-special added tokens are
  // always recognised.
  bool split_special_tokens = true;
};

struct DecodeOptions {
  bool skip_special_tokens = false;
};

// Well-known ids; each is absent when the vocabulary has no such token.
struct SpecialIds {
  std::optional<int32_t> pad;
  std::optional<int32_t> bos;
  std::optional<int32_t> eos;
  std::optional<int32_t> unk;
  std::optional<int32_t> sep;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text) const {
    return Encode(text, EncodeOptions());
  }
  virtual absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text,
                                                      const EncodeOptions& options) const = 0;

  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const {
    return Decode(ids, DecodeOptions());
  }
  // Fails on an id outside [0, vocab_size()).
  virtual absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                             const DecodeOptions& options) const = 0;

  // One past the largest id: the embedding table's row count.
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> TokenToId(absl::string_view token) const = 0;
  virtual absl::StatusOr<std::string> IdToToken(int32_t id) const = 0;
  virtual SpecialIds special_ids() const = 0;

  // Adds tokens that are split out of the text before any other processing.
  // Returns each token's id: a new id (vocab_size() at the time, in order) or,
  // for a token already in the vocabulary, its existing id.
  virtual absl::StatusOr<std::vector<int32_t>> AddTokens(absl::Span<const std::string> contents,
                                                         bool special) = 0;
};

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_TOKENIZER_H_
