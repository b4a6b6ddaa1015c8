// Helpers shared by the tests in tests/nn: a tiny model config, a scratch
// folder, running the independent Python reference, reading raw float32 files.
#ifndef LIBRA_TESTS_NN_TEST_UTIL_H_
#define LIBRA_TESTS_NN_TEST_UTIL_H_

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "src/nn/config.h"

namespace libra::nn::testing {

// Two layers, grouped-query attention (4 heads, 2 KV heads): small enough for
// exact comparisons against direct formulas.
inline ModelConfig TinyLlama() {
  ModelConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  return c;
}

// The byte tokenizer's vocabulary (260 ids) on a model twice as wide, for
// tests that train on encoded text.
inline ModelConfig TinyByteLlama() {
  ModelConfig c = TinyLlama();
  c.vocab_size = 260;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  return c;
}

inline std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(root ? root : "/tmp") + "/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

// Runs /usr/bin/python3 tests/nn/<script> with `args`; returns the exit code.
inline int RunPython(const std::string& script, const std::string& args) {
  const std::string command = "/usr/bin/python3 tests/nn/" + script + " " + args;
  return std::system(command.c_str());
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline torch::Tensor ReadFloats(const std::string& path, std::vector<int64_t> shape) {
  std::string bytes = ReadText(path);
  return torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size() / 4)}, torch::kFloat32)
      .clone()
      .view(shape);
}

}  // namespace libra::nn::testing

#endif  // LIBRA_TESTS_NN_TEST_UTIL_H_
