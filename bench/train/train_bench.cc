// Median milliseconds per LoRA training step (forward, backward, clipping,
// AdamW) of libra's trainer on the bench model: vocab 260, d_model 256,
// 4 layers, 4 heads, SwiGLU 688, seq 128, batch 16, LoRA rank 8 on q and v.
// run.sh runs the same model in Python torch (torch_train.py) for the ratio.
//
// --target_tokens T (> 0): the loss on the last T tokens of each sequence
// only, a prompt/target example (every token: 0).
//
//   train_bench [--threads 2] [--steps 20] [--target_tokens 0]
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <torch/torch.h>

#include "bench/common/bench_model.h"
#include "src/nn/runtime.h"
#include "src/nn/adapters.h"
#include "src/nn/model.h"
#include "src/nn/trainer.h"

int main(int argc, char** argv) {
  int threads = 2, steps = 20, target_tokens = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--target_tokens")) target_tokens = std::atoi(argv[i + 1]);
  }
  libra::ConfigureRuntime(threads);
  libra::nn::ModelConfig config = libra::bench::BenchLlama();
  torch::manual_seed(0);
  libra::nn::CausalLM model(config);
  libra::nn::AdapterConfig adapter;
  adapter.lora.rank = 8;
  adapter.targets.names = {"q_proj", "v_proj"};
  if (!libra::nn::AttachAdapters(*model, adapter, 1).ok()) return 1;
  std::vector<libra::nn::TokenizedExample> data(16);
  torch::Tensor ids = torch::randint(0, 260, {16, 128});
  for (int64_t i = 0; i < 16; ++i) {
    data[i].ids.assign(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + 128);
    // Position target_start - 1 predicts the first target, as in the Python peer.
    data[i].target_start = target_tokens > 0 ? 128 - target_tokens : 1;
  }
  libra::nn::TrainOptions options;
  options.batch_size = 16;
  options.max_steps = 1;
  options.progress = false;
  options.learning_rate = 1e-4;
  std::vector<double> times;
  for (int s = 0; s < steps + 3; ++s) {
    auto start = std::chrono::steady_clock::now();
    if (!libra::nn::Train(*model, data, options).ok()) return 1;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (s >= 3) times.push_back(ms);  // warm-up steps excluded
  }
  std::sort(times.begin(), times.end());
  std::printf("libra_ms %.1f\n", times[times.size() / 2]);
  return 0;
}
