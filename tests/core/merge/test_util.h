// Small helpers shared by the merge tests: seeded random tensors and
// element-wise comparison.
#ifndef LIBRA_TESTS_CORE_MERGE_TEST_UTIL_H_
#define LIBRA_TESTS_CORE_MERGE_TEST_UTIL_H_

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "src/core/tensor.h"

namespace libra::merge::testing {

inline Tensor RandomTensor(const Shape& shape, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-scale, scale);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return Tensor(shape, std::move(values));
}

// |a - b| <= atol + rtol * |b| everywhere; reports the first mismatch.
inline ::testing::AssertionResult AllClose(const std::vector<float>& a,
                                           const std::vector<float>& b, float atol = 1e-5f,
                                           float rtol = 1e-5f) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i]))) {
      return ::testing::AssertionFailure() << "entry " << i << ": " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Plain triple loop: scale * B A.
inline std::vector<float> NaiveProduct(const Tensor& b, const Tensor& a, float scale) {
  const int64_t rows = b.dim(0), rank = b.dim(1), cols = a.dim(1);
  std::vector<float> out(rows * cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      double sum = 0.0;
      for (int64_t k = 0; k < rank; ++k) sum += double(b.at(r * rank + k)) * a.at(k * cols + c);
      out[r * cols + c] = static_cast<float>(scale * sum);
    }
  }
  return out;
}

}  // namespace libra::merge::testing

#endif  // LIBRA_TESTS_CORE_MERGE_TEST_UTIL_H_
