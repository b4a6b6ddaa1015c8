// ParseModelConfig's integer fields: what a Hugging Face config.json may
// hold there, and what it is refused with.
#include "src/nn/config.h"

#include <string>

#include <gtest/gtest.h>

namespace libra::nn {
namespace {

// A small Llama config whose num_key_value_heads is `kv_heads` (JSON text).
std::string LlamaWithKvHeads(const std::string& kv_heads) {
  return R"({"model_type": "llama", "vocab_size": 67, "hidden_size": 32,
             "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": )" +
         kv_heads + R"(, "rms_norm_eps": 1e-06, "hidden_act": "silu"})";
}

void ExpectRefused(const std::string& text, const std::string& field) {
  auto config = ParseModelConfig(text, "dir/config.json");
  ASSERT_FALSE(config.ok()) << text;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  EXPECT_NE(message.find("dir/config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("\"" + field + "\" must be a positive integer"), std::string::npos)
      << message;
}

TEST(ConfigTest, IntegerFieldsAreReadAsWritten) {
  auto config = ParseModelConfig(LlamaWithKvHeads("2"), "c.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->vocab_size, 67);
  EXPECT_EQ(config->num_attention_heads, 4);
  EXPECT_EQ(config->num_key_value_heads, 2);
  EXPECT_EQ(config->max_position_embeddings, 2048);  // absent: the default

  auto null_heads = ParseModelConfig(LlamaWithKvHeads("null"), "c.json");
  ASSERT_TRUE(null_heads.ok()) << null_heads.status();
  EXPECT_EQ(null_heads->num_key_value_heads, 4);  // multi-head attention
}

// Found by model_config_fuzz under UBSan: a number past uint64's range is
// parsed as floating point, and converting it to int64 was undefined.
TEST(ConfigTest, NumberPastIntegerRangeIsRefused) {
  ExpectRefused(LlamaWithKvHeads("27777777777777777777777777777777777777777777"),
                "num_key_value_heads");
  ExpectRefused(LlamaWithKvHeads("18446744073709551615"), "num_key_value_heads");  // 2^64 - 1
  std::string huge_vocab = LlamaWithKvHeads("2");
  huge_vocab.replace(huge_vocab.find("67"), 2, "9223372036854775808");  // 2^63
  ExpectRefused(huge_vocab, "vocab_size");
}

// A fraction used to be truncated without a word.
TEST(ConfigTest, FractionIsRefused) {
  ExpectRefused(LlamaWithKvHeads("2.5"), "num_key_value_heads");
  std::string text = LlamaWithKvHeads("2");
  text.replace(text.find("\"rms_norm_eps\""), 0, "\"max_position_embeddings\": 2048.5, ");
  ExpectRefused(text, "max_position_embeddings");
}

TEST(ConfigTest, ZeroOrNegativeIsRefused) {
  ExpectRefused(LlamaWithKvHeads("0"), "num_key_value_heads");
  ExpectRefused(LlamaWithKvHeads("-4"), "num_key_value_heads");
}

}  // namespace
}  // namespace libra::nn
