#include "src/core/text/hf_tokenizer.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace libra::text {
namespace {

using Ids = std::vector<int32_t>;
using Json = nlohmann::json;

// ---- A hand-made GPT-2 style byte-level BPE tokenizer.json.
// Ids 0-255: the byte whose value is the id, written with GPT-2's byte-to-
// character table (computed here from its published definition). Merges get
// ids 256 + rank. "Ġ" is the space byte's character, "Ã©" is é's two bytes.
std::string Utf8(int codepoint) {
  std::string out;
  if (codepoint < 0x80) {
    out += static_cast<char>(codepoint);
  } else if (codepoint < 0x800) {
    out += static_cast<char>(0xC0 | (codepoint >> 6));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (codepoint >> 12));
    out += static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  }
  return out;
}

std::vector<std::string> Gpt2ByteStrings() {
  std::vector<int> codepoint(256, -1);
  for (int b = 0; b < 256; ++b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) codepoint[b] = b;
  }
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (codepoint[b] < 0) codepoint[b] = 256 + n++;
  }
  std::vector<std::string> strings;
  for (int b = 0; b < 256; ++b) strings.push_back(Utf8(codepoint[b]));
  return strings;
}

const std::string kG = Utf8(0x120);  // Ġ

const std::vector<std::pair<std::string, std::string>> kByteLevelMerges = {
    {kG, "t"},                   // 256 Ġt
    {"h", "e"},                  // 257 he
    {kG + "t", "he"},            // 258 Ġthe
    {"l", "o"},                  // 259 lo
    {"lo", "w"},                 // 260 low
    {"e", "r"},                  // 261 er
    {kG, "low"},                 // 262 Ġlow
    {kG + "low", "er"},          // 263 Ġlower
    {Utf8(0xC3), Utf8(0xA9)},    // 264 Ã©  (é)
};

Json ByteLevelJson() {
  Json vocab = Json::object();
  const std::vector<std::string> bytes = Gpt2ByteStrings();
  for (int b = 0; b < 256; ++b) vocab[bytes[b]] = b;
  Json merges = Json::array();
  for (size_t rank = 0; rank < kByteLevelMerges.size(); ++rank) {
    const auto& [left, right] = kByteLevelMerges[rank];
    vocab[left + right] = 256 + static_cast<int>(rank);
    merges.push_back(left + " " + right);
  }
  vocab["<|endoftext|>"] = 265;
  Json json;
  json["version"] = "1.0";
  json["added_tokens"] = Json::array({{{"id", 265}, {"content", "<|endoftext|>"}, {"single_word", false},
                                      {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                                      {"special", true}}});
  json["normalizer"] = nullptr;
  json["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false},
                           {"trim_offsets", true}, {"use_regex", true}};
  json["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true},
                            {"trim_offsets", false}, {"use_regex", true}};
  json["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                     {"use_regex", true}};
  json["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                   {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""},
                   {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
                   {"merges", merges}};
  return json;
}

HfTokenizer Load(const Json& json) {
  auto tokenizer = HfTokenizer::FromJsonString(json.dump());
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

Ids Encode(const HfTokenizer& tokenizer, const std::string& text, bool add_special = false) {
  EncodeOptions options;
  options.add_special_tokens = add_special;
  auto ids = tokenizer.Encode(text, options);
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.ok() ? *ids : Ids{};
}

std::string Decode(const HfTokenizer& tokenizer, const Ids& ids, bool skip_special = false) {
  DecodeOptions options;
  options.skip_special_tokens = skip_special;
  auto text = tokenizer.Decode(ids, options);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// A hostile size (a 100 MB JSON string) is refused from the file's length,
// before it is read, naming the limit.
TEST(HfTokenizerFileTest, OversizedFileIsRefusedBeforeReading) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/tokenizer.json";
  {
    std::ofstream out(path, std::ios::binary);
    out.seekp((100 << 20) - 1);
    out.put('"');  // sparse: nothing but the length is written
  }
  absl::StatusOr<HfTokenizer> refused = HfTokenizer::FromFile(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("104857600 bytes, over the 67108864-byte limit"), std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find(path), std::string::npos) << refused.status();
}

TEST(HfByteLevelTest, EncodesByHand) {
  const HfTokenizer tokenizer = Load(ByteLevelJson());
  EXPECT_EQ(tokenizer.vocab_size(), 266);
  // "the" -> t he (no "t he" merge); " lower" -> Ġ l o w e r -> lo -> low ->
  // er (rank 5) before Ġlow (rank 6) -> Ġlower; " the" -> Ġt, he -> Ġthe.
  EXPECT_EQ(Encode(tokenizer, "the lower the"), (Ids{'t', 257, 263, 258}));
  // Without the leading space "lower" stays low + er.
  EXPECT_EQ(Encode(tokenizer, "lower"), (Ids{260, 261}));
  // Pre-tokenization: "it", "'s"; a double space leaves one Ġ alone.
  EXPECT_EQ(Encode(tokenizer, "it's"), (Ids{'i', 't', '\'', 's'}));
  EXPECT_EQ(Encode(tokenizer, "a  b"), (Ids{'a', ' ', ' ', 'b'}));
  // é's bytes C3 A9 merge; other non-ASCII bytes are their own ids.
  EXPECT_EQ(Encode(tokenizer, "\xC3\xA9\xE2\x82\xAC"), (Ids{264, 0xE2, 0x82, 0xAC}));
  EXPECT_EQ(Encode(tokenizer, "\n"), (Ids{'\n'}));
  EXPECT_EQ(Encode(tokenizer, "hehe"), (Ids{257, 257}));
  // The special token is split out before pre-tokenization.
  EXPECT_EQ(Encode(tokenizer, "the<|endoftext|> the"), (Ids{'t', 257, 265, 258}));
  EncodeOptions as_text;
  as_text.split_special_tokens = false;
  EXPECT_EQ(tokenizer.Encode("<|", as_text).value(), (Ids{'<', '|'}));
  // The ByteLevel post-processor adds nothing.
  EXPECT_EQ(Encode(tokenizer, "the", true), (Ids{'t', 257}));
}

TEST(HfByteLevelTest, DecodesAndRoundTrips) {
  const HfTokenizer tokenizer = Load(ByteLevelJson());
  EXPECT_EQ(Decode(tokenizer, {'t', 257, 263, 258}), "the lower the");
  EXPECT_EQ(Decode(tokenizer, {257, 265, 264}), "he<|endoftext|>\xC3\xA9");
  EXPECT_EQ(Decode(tokenizer, {257, 265, 264}, true), "he\xC3\xA9");
  std::string all_bytes;
  for (int b = 1; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  for (const std::string& text :
       {std::string(""), std::string("Hello, world!"), std::string("  leading and trailing  "),
        std::string("tabs\tand\nnew\r\nlines\n\n"), std::string("it's they'll WE'RE"),
        std::string("na\xC3\xAFve caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x91\x8B!!"),
        std::string("x = (y+1)*3.14; // 12345"), all_bytes}) {
    EXPECT_EQ(Decode(tokenizer, Encode(tokenizer, text)), text);
  }
  auto bad = tokenizer.Decode(Ids{1, 266});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(bad.status().message().find("id 266 is not in the vocab"), std::string::npos);
}

TEST(HfByteLevelTest, Llama3StyleSplitThenByteLevel) {
  Json json = ByteLevelJson();
  json["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", std::string(PreTokenizerRegexSource(PreTokenizerRegex::kCl100k))}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  json["model"]["ignore_merges"] = true;
  const HfTokenizer tokenizer = Load(json);
  // Digits group by three; " 1" would be one GPT-2 piece but is " " + "1" here.
  EXPECT_EQ(Encode(tokenizer, "12345"), (Ids{'1', '2', '3', '4', '5'}));
  EXPECT_EQ(Encode(tokenizer, "the lower"), (Ids{'t', 257, 263}));
  // ignore_merges: "Ġlow" is a vocab word, taken whole (rank order would give the same here).
  EXPECT_EQ(Encode(tokenizer, " low"), (Ids{262}));
  EXPECT_EQ(Decode(tokenizer, Encode(tokenizer, "Hi!!\n\nNext 2024")), "Hi!!\n\nNext 2024");
}

// ---- A hand-made SentencePiece-style BPE (Llama-2 layout): <unk> <s> </s>,
// the 256 byte tokens <0x00>..<0xFF> at ids 3..258, then pieces and merges.
const std::string kSp = "\xE2\x96\x81";  // ▁

Json SentencePieceJson() {
  Json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[absl::StrFormat("<0x%02X>", b)] = 3 + b;
  const std::vector<std::string> pieces = {kSp, "h", "e", "l", "o", "w", "r", "d"};
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 259 + static_cast<int>(i);  // 259..266
  const std::vector<std::pair<std::string, std::string>> merges = {
      {kSp, "h"},          // 267 ▁h
      {"l", "l"},          // 268 ll
      {kSp + "h", "e"},    // 269 ▁he
      {"ll", "o"},         // 270 llo
      {kSp + "he", "llo"}, // 271 ▁hello
      {kSp, "w"},          // 272 ▁w
      {"o", "r"},          // 273 or
      {kSp + "w", "or"},   // 274 ▁wor
  };
  Json merge_list = Json::array();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    vocab[merges[rank].first + merges[rank].second] = 267 + static_cast<int>(rank);
    merge_list.push_back(merges[rank].first + " " + merges[rank].second);
  }
  Json json;
  Json added = Json::array();
  for (auto [id, content] : {std::pair<int, const char*>{0, "<unk>"}, {1, "<s>"}, {2, "</s>"}}) {
    added.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  json["added_tokens"] = added;
  json["normalizer"] = {{"type", "Sequence"},
                        {"normalizers",
                         {{{"type", "Prepend"}, {"prepend", kSp}},
                          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSp}}}}};
  json["pre_tokenizer"] = nullptr;
  json["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", Json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  json["decoder"] = {{"type", "Sequence"},
                     {"decoders",
                      {{{"type", "Replace"}, {"pattern", {{"String", kSp}}}, {"content", " "}},
                       {{"type", "ByteFallback"}},
                       {{"type", "Fuse"}},
                       {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  json["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"},
                   {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                   {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab},
                   {"merges", merge_list}};
  return json;
}

TEST(HfSentencePieceTest, EncodesByHand) {
  const HfTokenizer tokenizer = Load(SentencePieceJson());
  // "▁hello▁world": ▁h, ll, ▁he, llo, ▁hello; ▁w, or, ▁wor; l and d stay.
  EXPECT_EQ(Encode(tokenizer, "hello world"), (Ids{271, 274, 262, 266}));
  // i and ! are not pieces: their bytes <0x69> <0x21>.
  EXPECT_EQ(Encode(tokenizer, "hi!"), (Ids{267, 3 + 0x69, 3 + 0x21}));
  // é: two byte tokens.
  EXPECT_EQ(Encode(tokenizer, "\xC3\xA9"), (Ids{259, 3 + 0xC3, 3 + 0xA9}));
  // Special tokens are split out first; each text segment gets its own ▁.
  EXPECT_EQ(Encode(tokenizer, "hello</s>"), (Ids{271, 2}));
  EXPECT_EQ(Encode(tokenizer, "<s>hello"), (Ids{1, 271}));
  // The template puts <s> first.
  EXPECT_EQ(Encode(tokenizer, "hello", true), (Ids{1, 271}));
  EXPECT_EQ(*tokenizer.special_ids().bos, 1);
  EXPECT_EQ(*tokenizer.special_ids().eos, 2);
  EXPECT_EQ(*tokenizer.special_ids().unk, 0);
}

TEST(HfSentencePieceTest, DecodesAndRoundTrips) {
  const HfTokenizer tokenizer = Load(SentencePieceJson());
  EXPECT_EQ(Decode(tokenizer, {271, 274, 262, 266}), "hello world");
  EXPECT_EQ(Decode(tokenizer, {259, 3 + 0xC3, 3 + 0xA9}), "\xC3\xA9");
  // A lone continuation byte is not UTF-8: U+FFFD, as Hugging Face does.
  EXPECT_EQ(Decode(tokenizer, {267, 3 + 0xA9}), "h\xEF\xBF\xBD");
  EXPECT_EQ(Decode(tokenizer, {1, 271, 2}, true), "hello");
  for (const std::string& text :
       {std::string("hello world"), std::string(" two  spaces "), std::string("Hi!\nline\ttab"),
        std::string("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x91\x8B"),
        std::string("world hello worldwide")}) {
    EXPECT_EQ(Decode(tokenizer, Encode(tokenizer, text)), text) << text;
  }
}

TEST(HfSentencePieceTest, MetaspaceLayout) {
  Json json = SentencePieceJson();
  json["normalizer"] = nullptr;
  json["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kSp},
                           {"prepend_scheme", "first"}, {"split", false}};
  // Byte tokens still need ByteFallback; Metaspace then turns ▁ into spaces
  // and drops the first token's (the prepended one) before tokens are fused.
  json["decoder"] = {{"type", "Sequence"},
                     {"decoders",
                      {{{"type", "ByteFallback"}},
                       {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", "first"},
                        {"split", false}},
                       {{"type", "Fuse"}}}}};
  const HfTokenizer tokenizer = Load(json);
  EXPECT_EQ(Encode(tokenizer, "hello world"), (Ids{271, 274, 262, 266}));
  // "first": only the segment at the start of the text gets ▁, so after <s>
  // "hello" is h e llo (no ▁he merge applies without ▁).
  EXPECT_EQ(Encode(tokenizer, "<s>hello"), (Ids{1, 260, 261, 270}));
  EXPECT_EQ(Decode(tokenizer, {271, 274, 262, 266}), "hello world");
  // Only the first token's ▁ is the prepended space; later ones are spaces.
  EXPECT_EQ(Decode(tokenizer, {259, 259, 271}), "  hello");
  for (const std::string& text : {std::string("hello world"), std::string("a  b c")}) {
    EXPECT_EQ(Decode(tokenizer, Encode(tokenizer, text)), text) << text;
  }
  // split: true cuts before every ▁, so ▁hello and ▁world are separate words.
  json["pre_tokenizer"]["split"] = true;
  json["pre_tokenizer"]["prepend_scheme"] = "always";
  const HfTokenizer split = Load(json);
  EXPECT_EQ(Encode(split, "hello world"), (Ids{271, 274, 262, 266}));
  EXPECT_EQ(Encode(split, "<s>hello"), (Ids{1, 271}));
}

TEST(HfSentencePieceTest, UnknownWithoutByteTokens) {
  Json json = SentencePieceJson();
  json["model"]["byte_fallback"] = false;
  const HfTokenizer tokenizer = Load(json);
  // i and ! are unknown and adjacent: fused into one <unk>.
  EXPECT_EQ(Encode(tokenizer, "hi!"), (Ids{267, 0}));
}

TEST(HfTokenizerTest, AddTokensGivesNewIdsAndPersists) {
  HfTokenizer tokenizer = Load(SentencePieceJson());
  const int32_t before = tokenizer.vocab_size();
  EXPECT_EQ(before, 275);
  auto ids = tokenizer.AddTokens({"<plan_1>", "<plan_2>", "</s>", "llo"}, /*special=*/true);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (Ids{275, 276, 2, 270}));
  EXPECT_EQ(tokenizer.vocab_size(), 277);
  EXPECT_EQ(Encode(tokenizer, "hello<plan_2>world"), (Ids{271, 276, 274, 262, 266}));
  EXPECT_EQ(*tokenizer.IdToToken(275), "<plan_1>");

  auto reloaded = HfTokenizer::FromJsonString(tokenizer.ToJsonString());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->vocab_size(), 277);
  EXPECT_EQ(Encode(*reloaded, "hello<plan_2>world"), (Ids{271, 276, 274, 262, 266}));
}

TEST(HfTokenizerTest, FromFile) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/tokenizer.json";
  std::ofstream(path) << ByteLevelJson().dump(2);
  auto tokenizer = HfTokenizer::FromFile(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(Encode(*tokenizer, "the"), (Ids{'t', 257}));
  auto missing = HfTokenizer::FromFile("/nonexistent/tokenizer.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/tokenizer.json"), std::string::npos);
}

TEST(HfTokenizerTest, RejectsUnsupportedOrBrokenFiles) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](Json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; },
       "pre_tokenizer: type \"Whitespace\" is not supported"},
      {[](Json& j) {
         j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}},
                               {"behavior", "Isolated"}, {"invert", false}};
       },
       "Split regex \"\\\\w+\" is not supported"},
      {[](Json& j) { j["normalizer"] = {{"type", "BertNormalizer"}}; },
       "normalizer: type \"BertNormalizer\" is not supported"},
      {[](Json& j) { j["decoder"] = {{"type", "WordPiece"}}; }, "decoder: type \"WordPiece\""},
      {[](Json& j) { j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {{{"SpecialToken", {{"id", "<x>"}}}}}}}; },
       "special token \"<x>\" has no \"ids\""},
      {[](Json& j) { j["model"]["type"] = "Unigram"; }, "model: tokenizer.json model: type \"Unigram\""},
      {[](Json& j) { j["model"]["merges"].push_back("zz qq"); }, "\"zz\" is not in the vocab"},
      {[](Json& j) { j.erase("model"); }, "model: missing"},
      {[](Json& j) { j["added_tokens"].push_back({{"id", 5}, {"content", "<|endoftext|>"}}); },
       "added_tokens: added token \"<|endoftext|>\": id 5 but already has id 265"},
      {[](Json& j) { j["added_tokens"].push_back({{"content", "x"}}); }, "needs an integer id"},
      // Ids past int32 used to wrap (2^32 + 5 -> 5) and then pass the range checks.
      {[](Json& j) { j["added_tokens"].push_back({{"id", 4294967301ull}, {"content", "x"}}); },
       "needs an integer id (0 to 2^31 - 1)"},
      {[](Json& j) { j["added_tokens"].push_back({{"id", -3}, {"content", "x"}}); },
       "needs an integer id (0 to 2^31 - 1)"},
      {[](Json& j) {
         j["post_processor"] = {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "<x>"}}}}}},
                                {"special_tokens", {{"<x>", {{"ids", {4294967296ull}}}}}}};
       },
       "special token \"<x>\": bad id"},
      {[](Json& j) {
         j["post_processor"] = {{"type", "RobertaProcessing"},
                                {"cls", {"<s>", 4294967296ull}},
                                {"sep", {"</s>", 2}}};
       },
       "expected [token, id] pairs for cls and sep"},
  };
  for (const Case& c : cases) {
    Json json = ByteLevelJson();
    c.edit(json);
    auto tokenizer = HfTokenizer::FromJsonString(json.dump(), "dir/tokenizer.json");
    ASSERT_FALSE(tokenizer.ok()) << c.message;
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(tokenizer.status().message().find("dir/tokenizer.json: "), std::string::npos);
    EXPECT_NE(tokenizer.status().message().find(c.message), std::string::npos)
        << "want: " << c.message << "\ngot: " << tokenizer.status().message();
  }
  auto not_json = HfTokenizer::FromJsonString("{\"model\": ", "t.json");
  EXPECT_EQ(not_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(not_json.status().message().find("t.json: file: not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace libra::text
