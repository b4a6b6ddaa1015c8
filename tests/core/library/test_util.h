// Helpers shared by the library tests: temp folders and small experts.
#ifndef LIBRA_TESTS_CORE_LIBRARY_TEST_UTIL_H_
#define LIBRA_TESTS_CORE_LIBRARY_TEST_UTIL_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "src/core/library/expert_weights.h"
#include "src/core/tensor.h"

namespace libra::testing {

inline std::string NewTempDir(const std::string& tag) {
  std::string pattern = std::string(std::getenv("TEST_TMPDIR")) + "/" + tag + "XXXXXX";
  return mkdtemp(pattern.data());
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

inline Tensor Filled(Shape shape, float start, float step) {
  Tensor tensor = Tensor::Zeros(std::move(shape));
  for (int64_t i = 0; i < tensor.size(); ++i) tensor.at(i) = start + step * static_cast<float>(i);
  return tensor;
}

// Two modules, q [8, 6] and v [4, 6]; q has rank 2, v rank `v_rank`.
inline ExpertWeights SmallLora(int64_t v_rank = 2, float seed = 0.0f) {
  ExpertWeights weights;
  weights.type = AdapterType::kLora;
  weights.lora["m.q"] = LoraModule{Filled({2, 6}, seed + 0.1f, 0.01f), Filled({8, 2}, seed - 0.2f, 0.03f)};
  weights.lora["m.v"] = LoraModule{Filled({v_rank, 6}, seed + 0.5f, -0.02f), Filled({4, v_rank}, seed, 0.05f)};
  return weights;
}

}  // namespace libra::testing

#endif  // LIBRA_TESTS_CORE_LIBRARY_TEST_UTIL_H_
