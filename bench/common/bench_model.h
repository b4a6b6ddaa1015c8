// The model size the training and routing benchmarks measure (and their
// Python peers mirror): byte vocabulary, 4 layers of width 256.
#ifndef LIBRA_BENCH_COMMON_BENCH_MODEL_H_
#define LIBRA_BENCH_COMMON_BENCH_MODEL_H_

#include "src/nn/config.h"

namespace libra::bench {

inline nn::ModelConfig BenchLlama() {
  nn::ModelConfig config;
  config.vocab_size = 260;
  config.hidden_size = 256;
  config.intermediate_size = 688;
  config.num_hidden_layers = 4;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 4;
  return config;
}

}  // namespace libra::bench

#endif  // LIBRA_BENCH_COMMON_BENCH_MODEL_H_
