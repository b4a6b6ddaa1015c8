// The tokenizer that goes with a model folder: DIR/tokenizer.json when it
// exists (a Hugging Face BPE tokenizer), else the byte-level tokenizer the
// project's own small models use. One rule for the CLI and the paper labs.
//
//   LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadModelTokenizer(dir));
#ifndef LIBRA_CORE_TEXT_MODEL_TOKENIZER_H_
#define LIBRA_CORE_TEXT_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/core/text/tokenizer.h"

namespace libra::text {

// Errors: a tokenizer.json that does not parse (named in the message).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadModelTokenizer(const std::string& model_dir);

// Fails, naming the folder and the tokenizer's source, when the tokenizer has
// more tokens than the model's embedding rows.
absl::Status CheckTokenizerFitsModel(const Tokenizer& tokenizer, int64_t model_vocab_size,
                                     const std::string& model_dir);

}  // namespace libra::text

#endif  // LIBRA_CORE_TEXT_MODEL_TOKENIZER_H_
