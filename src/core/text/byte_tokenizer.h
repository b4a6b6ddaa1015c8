// Byte-level tokenizer for the synthetic tasks: one id per byte, no merges.
//
// Ids:   0..255  the bytes themselves (id == byte value)
//        256     <pad>
//        257     <bos>
//        258     <eos>
//        259     <sep>   (between a task's source and its target)
//        260..   tokens added later with AddTokens (planning tokens), in order
// vocab_size() is 260 until tokens are added. Any byte string encodes, so the
// round trip Decode(Encode(s)) == s holds for every s that contains no special
// or added token text.
//
//   ByteTokenizer tokenizer;
//   std::vector<int32_t> ids = *tokenizer.Encode("ab<eos>");  // {97, 98, 258}
#ifndef LIBRA_CORE_TEXT_BYTE_TOKENIZER_H_
#define LIBRA_CORE_TEXT_BYTE_TOKENIZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/core/text/added_vocabulary.h"
#include "src/core/text/tokenizer.h"

namespace libra::text {

class ByteTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kPadId = 256;
  static constexpr int32_t kBosId = 257;
  static constexpr int32_t kEosId = 258;
  static constexpr int32_t kSepId = 259;
  static constexpr int32_t kBaseVocabSize = 260;

  ByteTokenizer();

  using Tokenizer::Decode;
  using Tokenizer::Encode;
  // add_special_tokens puts <bos> before the text.
  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text,
                                              const EncodeOptions& options) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options) const override;
  int32_t vocab_size() const override { return added_.end_id(); }
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  absl::StatusOr<std::string> IdToToken(int32_t id) const override;
  SpecialIds special_ids() const override;
  absl::StatusOr<std::vector<int32_t>> AddTokens(absl::Span<const std::string> contents,
                                                 bool special) override;

 private:
  AddedVocabulary added_;
};

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_BYTE_TOKENIZER_H_
