#include "src/core/text/bpe_model.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/core/text/utf8.h"

namespace libra::text {
namespace {

constexpr int32_t kNoMerge = std::numeric_limits<int32_t>::max();
// Ids size tables, so a corrupt id must not allocate gigabytes.
constexpr int64_t kMaxVocabId = int64_t{1} << 24;

absl::Status ModelError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json model: ", what));
}

// Reads an optional string field; absent and null both give nullopt.
absl::StatusOr<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                          const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return ModelError(absl::StrCat("\"", key, "\" must be a string"));
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<bool> OptionalBool(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return false;
  if (!it->is_boolean()) return ModelError(absl::StrCat("\"", key, "\" must be true or false"));
  return it->get<bool>();
}

}  // namespace

absl::StatusOr<BpeModel> BpeModel::FromJson(const nlohmann::json& model) {
  if (!model.is_object()) return ModelError("expected an object");
  auto type = model.find("type");
  if (type != model.end() && !(type->is_string() && type->get<std::string>() == "BPE")) {
    return ModelError(absl::StrCat("type ", type->dump(), " is not supported (only \"BPE\")"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto value = OptionalString(model, key);
    if (!value.ok()) return value.status();
    if (value->has_value() && !(*value)->empty()) {
      return ModelError(absl::StrCat("\"", key, "\" is not supported"));
    }
  }
  Options options;
  auto unk = OptionalString(model, "unk_token");
  if (!unk.ok()) return unk.status();
  options.unk_token = *unk;
  for (auto [key, field] : {std::pair<const char*, bool*>{"byte_fallback", &options.byte_fallback},
                            {"fuse_unk", &options.fuse_unk},
                            {"ignore_merges", &options.ignore_merges}}) {
    auto value = OptionalBool(model, key);
    if (!value.ok()) return value.status();
    *field = *value;
  }

  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object()) {
    return ModelError("\"vocab\" must be an object of token to id");
  }
  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(vocab_it->size());
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() >= kMaxVocabId) {
      return ModelError(absl::StrCat("vocab token \"", it.key(), "\": id ", it.value().dump(),
                                     " is not an integer in [0, 2^24)"));
    }
    vocab.emplace_back(it.key(), static_cast<int32_t>(it.value().get<int64_t>()));
  }

  std::vector<std::pair<std::string, std::string>> merges;
  auto merges_it = model.find("merges");
  if (merges_it != model.end() && !merges_it->is_null()) {
    if (!merges_it->is_array()) return ModelError("\"merges\" must be an array");
    merges.reserve(merges_it->size());
    for (size_t i = 0; i < merges_it->size(); ++i) {
      const nlohmann::json& merge = (*merges_it)[i];
      if (merge.is_string()) {
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
          return ModelError(absl::StrCat("merge ", i, " \"", text, "\" is not \"left right\""));
        }
        merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {
        merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        return ModelError(absl::StrCat("merge ", i, " ", merge.dump(),
                                       " is neither \"left right\" nor [left, right]"));
      }
    }
  }
  return Create(std::move(vocab), merges, std::move(options));
}

absl::StatusOr<BpeModel> BpeModel::Create(
    std::vector<std::pair<std::string, int32_t>> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, Options options) {
  BpeModel bpe;
  bpe.options_ = std::move(options);
  int32_t end_id = 0;
  for (const auto& [token, id] : vocab) end_id = std::max(end_id, id + 1);
  bpe.tokens_by_id_.resize(end_id);
  bpe.has_id_.assign(end_id, false);
  for (auto& [token, id] : vocab) {
    if (bpe.has_id_[id]) {
      return ModelError(absl::StrCat("vocab id ", id, " is used by both \"",
                                     bpe.tokens_by_id_[id], "\" and \"", token, "\""));
    }
    bpe.has_id_[id] = true;
    bpe.tokens_by_id_[id] = token;
    bpe.ids_by_token_.emplace(std::move(token), id);
  }
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    auto left_id = bpe.TokenToId(left);
    auto right_id = bpe.TokenToId(right);
    auto merged_id = bpe.TokenToId(left + right);
    if (!left_id || !right_id || !merged_id) {
      return ModelError(absl::StrCat("merge ", rank, " \"", left, " ", right, "\": \"",
                                     !left_id ? left : !right_id ? right : left + right,
                                     "\" is not in the vocab"));
    }
    // A repeated pair keeps its first (best) rank, as Hugging Face does.
    bpe.merges_.emplace(PairKey(*left_id, *right_id),
                        Merge{static_cast<int32_t>(rank), *merged_id});
  }
  if (bpe.options_.unk_token) {
    bpe.unk_id_ = bpe.TokenToId(*bpe.options_.unk_token);
    if (!bpe.unk_id_) {
      return ModelError(absl::StrCat("unk_token \"", *bpe.options_.unk_token,
                                     "\" is not in the vocab"));
    }
  }
  for (int byte = 0; byte < 256; ++byte) {
    auto id = bpe.TokenToId(absl::StrFormat("<0x%02X>", byte));
    bpe.byte_ids_[byte] = id ? *id : -1;
  }
  return bpe;
}

std::optional<int32_t> BpeModel::TokenToId(absl::string_view token) const {
  auto it = ids_by_token_.find(std::string(token));
  if (it == ids_by_token_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || id >= end_id() || !has_id_[id]) return nullptr;
  return &tokens_by_id_[id];
}

int32_t BpeModel::RankOf(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return kNoMerge;
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? kNoMerge : it->second.rank;
}

absl::Status BpeModel::Tokenize(absl::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return absl::OkStatus();
  if (options_.ignore_merges) {
    if (auto id = TokenToId(word)) {
      ids->push_back(*id);
      return absl::OkStatus();
    }
  }
  // Initial symbols: one per character, or its byte tokens, or unk.
  std::vector<int32_t> symbols;
  bool last_was_unk = false;
  for (absl::string_view unit : SplitUtf8(word)) {
    if (auto id = TokenToId(unit)) {
      symbols.push_back(*id);
      last_was_unk = false;
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes_known = true;
      for (char c : unit) all_bytes_known &= byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes_known) {
        for (char c : unit) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        last_was_unk = false;
        continue;
      }
    }
    if (!unk_id_) {
      std::string hex;
      for (char c : unit) absl::StrAppendFormat(&hex, "%02X", static_cast<unsigned char>(c));
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer: character 0x", hex, " has no token, no byte fallback and no unk_token"));
    }
    if (!(options_.fuse_unk && last_was_unk)) symbols.push_back(*unk_id_);
    last_was_unk = true;
  }

  // ranks[i] is the merge rank of (symbols[i], symbols[i + 1]).
  std::vector<int32_t> ranks(symbols.size() > 0 ? symbols.size() - 1 : 0);
  for (size_t i = 0; i + 1 < symbols.size(); ++i) ranks[i] = RankOf(symbols[i], symbols[i + 1]);
  while (!ranks.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNoMerge) break;
    symbols[best] = merges_.at(PairKey(symbols[best], symbols[best + 1])).merged_id;
    symbols.erase(symbols.begin() + best + 1);
    ranks.erase(ranks.begin() + best);
    if (best > 0) ranks[best - 1] = RankOf(symbols[best - 1], symbols[best]);
    if (best < ranks.size()) ranks[best] = RankOf(symbols[best], symbols[best + 1]);
  }
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  return absl::OkStatus();
}

}  // namespace libra::text
