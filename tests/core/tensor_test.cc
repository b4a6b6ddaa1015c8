#include "src/core/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "gtest/gtest.h"

namespace libra {
namespace {

// Independent reference: the exact value a half bit pattern encodes.
double HalfValue(uint16_t bits) {
  const int sign = (bits >> 15) ? -1 : 1;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(TensorTest, MakeChecksElementCount) {
  EXPECT_TRUE(Tensor::Make({2, 3}, std::vector<float>(6)).ok());
  absl::StatusOr<Tensor> bad = Tensor::Make({2, 3}, std::vector<float>(5));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("[2, 3] needs 6 values, got 5"), std::string::npos);
}

TEST(TensorTest, ZeroDimAndEmptyShapes) {
  EXPECT_EQ(*NumElements({}), 1);
  EXPECT_EQ(*NumElements({0, 7}), 0);
  EXPECT_FALSE(NumElements({-1, 2}).ok());
  EXPECT_FALSE(NumElements({int64_t{1} << 40, int64_t{1} << 40}).ok());
  EXPECT_EQ(Tensor::Zeros({}).size(), 1);
}

TEST(TensorTest, DTypeNamesRoundTrip) {
  for (const char* name : {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"}) {
    absl::StatusOr<DType> dtype = ParseDType(name);
    ASSERT_TRUE(dtype.ok()) << name;
    EXPECT_STREQ(DTypeName(*dtype), name);
  }
  EXPECT_FALSE(ParseDType("F8_E4M3X").ok());
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
}

// Every half bit pattern converts to the value it encodes and back.
TEST(TensorTest, HalfAllPatternsRoundTrip) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t half = static_cast<uint16_t>(bits);
    const float value = HalfToFloat(half);
    if (((half >> 10) & 0x1f) == 0x1f) {
      EXPECT_EQ(std::isnan(value), (half & 0x3ff) != 0);
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(value))) == std::isnan(value));
      continue;
    }
    ASSERT_EQ(static_cast<double>(value), HalfValue(half)) << bits;
    ASSERT_EQ(FloatToHalf(value), half) << bits;
  }
}

// Float -> half rounds to the nearest representable value, ties to even,
// checked against a brute-force search over neighbouring half values.
TEST(TensorTest, HalfRoundsToNearestEven) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-26.0f, 16.5f);
  for (int i = 0; i < 20000; ++i) {
    const float value = std::exp2(exponent(rng)) * ((i & 1) ? -1.0f : 1.0f);
    const uint16_t got = FloatToHalf(value);
    if (std::fabs(value) >= 65520.0f) {
      EXPECT_EQ(got & 0x7fff, 0x7c00);
      continue;
    }
    const double error = std::fabs(HalfValue(got) - value);
    for (int delta : {-1, 1}) {
      const uint16_t neighbour = static_cast<uint16_t>(got + delta);
      if (((neighbour >> 10) & 0x1f) == 0x1f || ((neighbour ^ got) & 0x8000)) continue;
      const double other = std::fabs(HalfValue(neighbour) - value);
      ASSERT_LE(error, other) << value;
      if (error == other) {
        ASSERT_EQ(got & 1, 0) << "tie not to even: " << value;
      }
    }
  }
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), FloatToHalf(1.0f));  // tie -> even
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), FloatToHalf(1.0f) + 2);
}

TEST(TensorTest, BFloat16RoundsToNearestEven) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  for (int i = 0; i < 20000; ++i) {
    const float value = normal(rng);
    const uint16_t got = FloatToBFloat16(value);
    const double error = std::fabs(static_cast<double>(BFloat16ToFloat(got)) - value);
    for (int delta : {-1, 1}) {
      const double other =
          std::fabs(static_cast<double>(BFloat16ToFloat(static_cast<uint16_t>(got + delta))) - value);
      ASSERT_LE(error, other) << value;
      if (error == other) {
        ASSERT_EQ(got & 1, 0) << value;
      }
    }
  }
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::nanf("")))));
  EXPECT_TRUE(std::isinf(BFloat16ToFloat(FloatToBFloat16(std::numeric_limits<float>::infinity()))));
  EXPECT_EQ(BFloat16ToFloat(FloatToBFloat16(-2.5f)), -2.5f);
}

}  // namespace
}  // namespace libra
