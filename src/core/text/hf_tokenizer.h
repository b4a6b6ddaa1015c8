// A Hugging Face tokenizer.json with a BPE model: byte-level BPE (GPT-2,
// Phi-2, Qwen2, Llama-3) and SentencePiece-style BPE with byte fallback
// (Llama-2, Mistral).
//
// Encoding runs the tokenizer.json pipeline:
//   1. added tokens ("added_tokens") are split out of the raw text;
//   2. each remaining segment is normalised ("normalizer": Prepend, Replace
//      with a String pattern, NFC, Sequence of those);
//   3. pre-tokenised ("pre_tokenizer": ByteLevel, Split with the GPT-2,
//      Llama-3 or Qwen2 regex, Metaspace, Sequence of those);
//   4. each piece goes through the BPE model (bpe_model.h);
//   5. with add_special_tokens, "post_processor" (TemplateProcessing,
//      RobertaProcessing, BertProcessing, ByteLevel, Sequence) adds its ids.
// Decoding maps ids to token strings and runs "decoder" (ByteLevel, Replace,
// ByteFallback, Fuse, Strip, Metaspace, Sequence). Anything else in the file
// is rejected at load with a message naming the field and the supported
// types. Two deliberate differences from Hugging Face: NFC is taken as the
// identity (exact for text already in NFC), and the ByteLevel decoder keeps
// bytes that are not valid UTF-8 instead of replacing them with U+FFFD, so a
// prefix of a generation decodes to its exact bytes.
//
//   LIBRA_ASSIGN_OR_RETURN(HfTokenizer tokenizer, HfTokenizer::FromFile(dir + "/tokenizer.json"));
//   LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode("Hello world"));
//   LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> plan, tokenizer.AddTokens({"<plan>"}, true));
//   std::string json = tokenizer.ToJsonString();  // includes "<plan>" in added_tokens
#ifndef LIBRA_CORE_TEXT_HF_TOKENIZER_H_
#define LIBRA_CORE_TEXT_HF_TOKENIZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "src/core/text/added_vocabulary.h"
#include "src/core/text/bpe_model.h"
#include "src/core/text/pretokenizer.h"
#include "src/core/text/tokenizer.h"

namespace libra::text {

// FromFile refuses larger files before reading them.
inline constexpr uint64_t kMaxTokenizerFileBytes = 64ull << 20;

class HfTokenizer : public Tokenizer {
 public:
  // `source_name` appears in error messages (usually the file path).
  static absl::StatusOr<HfTokenizer> FromJsonString(absl::string_view json,
                                                    const std::string& source_name = "tokenizer.json");
  static absl::StatusOr<HfTokenizer> FromFile(const std::string& path);

  using Tokenizer::Decode;
  using Tokenizer::Encode;
  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text,
                                              const EncodeOptions& options) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  absl::StatusOr<std::string> IdToToken(int32_t id) const override;
  // Ids of conventionally named tokens ("<s>", "<|endoftext|>", "<unk>", ...);
  // bos is the first id the post-processor puts before a sequence, if any.
  SpecialIds special_ids() const override;
  absl::StatusOr<std::vector<int32_t>> AddTokens(absl::Span<const std::string> contents,
                                                 bool special) override;

  // The tokenizer.json this tokenizer was loaded from, with added tokens.
  std::string ToJsonString() const;

  // Steps of the pipeline, parsed from the JSON (public for the .cc helpers).
  struct NormalizerStep {
    enum class Kind { kPrepend, kReplace } kind;
    std::string pattern;  // kReplace: what to replace
    std::string content;  // kPrepend: the prefix; kReplace: the replacement
  };
  struct PreTokenizerStep {
    enum class Kind { kByteLevel, kSplit, kMetaspace } kind;
    bool add_prefix_space = false;  // kByteLevel
    bool use_regex = true;          // kByteLevel: split with the GPT-2 regex first
    PreTokenizerRegex regex = PreTokenizerRegex::kGpt2;  // kSplit
    std::string replacement;        // kMetaspace, e.g. "▁"
    enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
    bool split = true;              // kMetaspace: split before each replacement
  };
  struct DecoderStep {
    enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace } kind;
    std::string pattern;  // kReplace: what to replace; kStrip: the character
    std::string content;  // kReplace: the replacement; kMetaspace: the replacement char
    int start = 0;        // kStrip: characters to remove at the start
    int stop = 0;         // kStrip: at the end
    bool strip_first_space = true;  // kMetaspace: prepend_scheme is not "never"
  };

 private:
  HfTokenizer() = default;
  absl::Status EncodeSegment(absl::string_view segment, bool at_text_start,
                             std::vector<int32_t>* ids) const;

  nlohmann::json json_;
  std::string source_name_;
  AddedVocabulary added_;
  std::optional<BpeModel> bpe_;
  std::vector<NormalizerStep> normalizers_;
  std::vector<PreTokenizerStep> pre_tokenizers_;
  std::vector<DecoderStep> decoders_;
  std::vector<int32_t> prefix_ids_;  // post-processor, before the sequence
  std::vector<int32_t> suffix_ids_;  // after it
};

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_HF_TOKENIZER_H_
