// JsonInteger on values as JSON text parses them, at and past each bound.
#include "src/core/io/json_integer.h"

#include <cstdint>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

namespace libra {
namespace {

std::optional<int64_t> Parse(const char* text, int64_t min, int64_t max) {
  return JsonInteger(nlohmann::json::parse(text), min, max);
}

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

TEST(JsonIntegerTest, WholeNumbersInRange) {
  EXPECT_EQ(Parse("0", 0, 10), 0);
  EXPECT_EQ(Parse("10", 0, 10), 10);
  EXPECT_EQ(Parse("-3", -5, 5), -3);
  EXPECT_EQ(Parse("9223372036854775807", 1, kInt64Max), kInt64Max);  // 2^63 - 1, parsed unsigned
  EXPECT_EQ(Parse("2147483647", 0, 2147483647), 2147483647);
}

TEST(JsonIntegerTest, OutOfRangeIsRefused) {
  EXPECT_EQ(Parse("11", 0, 10), std::nullopt);
  EXPECT_EQ(Parse("0", 1, 10), std::nullopt);  // unsigned below a positive min
  EXPECT_EQ(Parse("-1", 0, 10), std::nullopt);
  EXPECT_EQ(Parse("2147483648", 0, 2147483647), std::nullopt);
  EXPECT_EQ(Parse("4294967301", 0, 2147483647), std::nullopt);  // would wrap to 5 as int32
  EXPECT_EQ(Parse("9223372036854775808", 1, kInt64Max), std::nullopt);   // 2^63
  EXPECT_EQ(Parse("18446744073709551615", 1, kInt64Max), std::nullopt);  // 2^64 - 1
  EXPECT_EQ(Parse("5", -10, -1), std::nullopt);  // unsigned against a negative max
}

TEST(JsonIntegerTest, NonIntegersAreRefused) {
  EXPECT_EQ(Parse("27777777777777777777777777777777777777777777", 1, kInt64Max), std::nullopt);
  EXPECT_EQ(Parse("2.5", 0, 10), std::nullopt);
  EXPECT_EQ(Parse("2.0", 0, 10), std::nullopt);
  EXPECT_EQ(Parse("\"4\"", 0, 10), std::nullopt);
  EXPECT_EQ(Parse("true", 0, 10), std::nullopt);
  EXPECT_EQ(Parse("null", 0, 10), std::nullopt);
}

}  // namespace
}  // namespace libra
