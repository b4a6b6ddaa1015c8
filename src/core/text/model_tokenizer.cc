#include "src/core/text/model_tokenizer.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/core/text/hf_tokenizer.h"

namespace libra::text {
namespace {

std::string TokenizerJson(const std::string& model_dir) { return model_dir + "/tokenizer.json"; }

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadModelTokenizer(const std::string& model_dir) {
  const std::string path = TokenizerJson(model_dir);
  if (!Readable(path)) return std::unique_ptr<Tokenizer>(std::make_unique<ByteTokenizer>());
  LIBRA_ASSIGN_OR_RETURN(HfTokenizer tokenizer, HfTokenizer::FromFile(path));
  return std::unique_ptr<Tokenizer>(std::make_unique<HfTokenizer>(std::move(tokenizer)));
}

absl::Status CheckTokenizerFitsModel(const Tokenizer& tokenizer, int64_t model_vocab_size,
                                     const std::string& model_dir) {
  if (tokenizer.vocab_size() <= model_vocab_size) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      model_dir, ": tokenizer has ", tokenizer.vocab_size(), " tokens but the model's vocab_size is ",
      model_vocab_size,
      Readable(TokenizerJson(model_dir)) ? " (tokenizer.json)"
                                         : " (no tokenizer.json: byte-level tokenizer)"));
}

}  // namespace libra::text
