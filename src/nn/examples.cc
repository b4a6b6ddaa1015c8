#include "src/nn/examples.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"

namespace libra::nn {

absl::StatusOr<std::vector<int64_t>> EncodePrompt(const text::Tokenizer& tokenizer,
                                                  absl::string_view source) {
  const text::SpecialIds special = tokenizer.special_ids();
  text::EncodeOptions options;
  options.split_special_tokens = false;  // data text is never control tokens
  LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> body, tokenizer.Encode(source, options));
  std::vector<int64_t> ids;
  if (special.bos) ids.push_back(*special.bos);
  ids.insert(ids.end(), body.begin(), body.end());
  if (special.sep) ids.push_back(*special.sep);
  return ids;
}

absl::StatusOr<TokenizedExample> EncodeExample(const text::Tokenizer& tokenizer,
                                               absl::string_view source, absl::string_view target,
                                               int64_t max_length) {
  LIBRA_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, EncodePrompt(tokenizer, source));
  text::EncodeOptions options;
  options.split_special_tokens = false;
  // Without a separator token the target is its own word after the source.
  const bool spaced = !tokenizer.special_ids().sep.has_value();
  LIBRA_ASSIGN_OR_RETURN(std::vector<int32_t> answer,
                         tokenizer.Encode(spaced ? absl::StrCat(" ", target) : std::string(target),
                                          options));
  std::vector<int64_t> tail(answer.begin(), answer.end());
  if (auto eos = tokenizer.special_ids().eos) tail.push_back(*eos);
  if (static_cast<int64_t>(tail.size()) + 1 > max_length) {
    return absl::InvalidArgumentError(absl::StrCat("target of ", tail.size(),
                                                   " tokens does not fit max_length ", max_length));
  }
  const int64_t keep = std::min<int64_t>(prompt.size(), max_length - tail.size());
  TokenizedExample example;
  example.ids.assign(prompt.end() - keep, prompt.end());
  example.target_start = static_cast<int64_t>(example.ids.size());
  example.ids.insert(example.ids.end(), tail.begin(), tail.end());
  return example;
}

std::vector<std::vector<int64_t>> LengthBucketedBatches(const std::vector<int64_t>& lengths,
                                                        int64_t batch_size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::shuffle(order.begin(), order.end(), rng);
  const size_t window = static_cast<size_t>(batch_size) * 64;
  for (size_t start = 0; start < order.size(); start += window) {
    auto end = order.begin() + std::min(order.size(), start + window);
    std::stable_sort(order.begin() + start, end,
                     [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; });
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t start = 0; start < order.size(); start += batch_size) {
    batches.emplace_back(order.begin() + start,
                         order.begin() + std::min(order.size(), start + batch_size));
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

}  // namespace libra::nn
