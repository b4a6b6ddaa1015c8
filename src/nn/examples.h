// Token sequences for training and evaluation (torch-free): a source/target
// pair becomes prompt ids followed by target ids; the loss covers only the
// target (and the end-of-sequence token after it).
//
//   Layout: [bos] source [sep] target [eos], each special id when the
//   tokenizer has it; a too-long example loses source tokens from the left.
//
//   LIBRA_ASSIGN_OR_RETURN(TokenizedExample ex,
//                          EncodeExample(tokenizer, "Sort: 312", "123", /*max_length=*/128));
//   std::vector<std::vector<int64_t>> batches = LengthBucketedBatches(lengths, 16, seed);
#ifndef LIBRA_NN_EXAMPLES_H_
#define LIBRA_NN_EXAMPLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/text/tokenizer.h"

namespace libra::nn {

struct TokenizedExample {
  std::vector<int64_t> ids;
  int64_t target_start = 0;  // ids[target_start..] carry the loss
  int64_t task = 0;          // index of the task (oracle routing, per-task metrics)
};

// The prompt part: [bos] source [sep].
absl::StatusOr<std::vector<int64_t>> EncodePrompt(const text::Tokenizer& tokenizer,
                                                  absl::string_view source);
absl::StatusOr<TokenizedExample> EncodeExample(const text::Tokenizer& tokenizer,
                                               absl::string_view source, absl::string_view target,
                                               int64_t max_length);

// Batches of example indices with similar lengths (little padding): shuffle
// with `seed`, sort windows of 64 batches by length, cut into batches, shuffle
// the batches. Deterministic for a seed; every index appears exactly once.
std::vector<std::vector<int64_t>> LengthBucketedBatches(const std::vector<int64_t>& lengths,
                                                        int64_t batch_size, uint64_t seed);

}  // namespace libra::nn

#endif  // LIBRA_NN_EXAMPLES_H_
