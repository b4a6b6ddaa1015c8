// Training step time and optimizer-state size of the sparse adapter against
// LoRA and full fine-tuning on the bench/train model (vocab 260, d_model 256,
// 4 layers, 4 heads, SwiGLU 688, seq 128, batch 16, loss on every token).
// One line per adapter: median ms per step (forward, backward, clipping,
// AdamW; the mask fixed, as after the first epoch), trainable elements,
// AdamW state bytes (two float32 moments), index bytes, and for sparse the
// time of one mask computation (scoring pass on one batch + top-k).
// run.sh runs the same adapters in Python torch (torch_sparse.py).
//
//   sparse_train_bench [--threads 2] [--steps 10] [--only sparse5]
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bench/common/bench_model.h"
#include "bench/common/train_step_timer.h"
#include "src/nn/adapters.h"
#include "src/nn/model.h"
#include "src/nn/runtime.h"
#include "src/nn/sparse_adapter.h"
#include "src/nn/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Setup {
  const char* name;
  libra::nn::AdapterKind kind;
  std::vector<std::string> targets;
  double keep = 0;
  int64_t block = 1;
};

double Ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 10;
  std::string only;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
  }
  libra::ConfigureRuntime(threads);
  using libra::nn::AdapterKind;
  const std::vector<std::string> qv = {"q_proj", "v_proj"};
  const std::vector<std::string> all = {"q_proj", "k_proj", "v_proj", "o_proj",
                                        "gate_proj", "up_proj", "down_proj"};
  const std::vector<Setup> setups = {
      {"lora_r8_qv", AdapterKind::kLora, qv},
      {"sparse5_qv", AdapterKind::kSparse, qv, 0.05, 1},
      {"sparse1_qv", AdapterKind::kSparse, qv, 0.01, 1},
      {"sparse5_block16_qv", AdapterKind::kSparse, qv, 0.05, 16},
      {"full_qv", AdapterKind::kFull, qv},
      {"full_all_linear", AdapterKind::kFull, all},
  };
  libra::nn::ModelConfig config = libra::bench::BenchLlama();
  torch::manual_seed(0);
  const torch::Tensor ids = torch::randint(0, 260, {16, 128});
  std::vector<libra::nn::TokenizedExample> data(16);
  for (int64_t i = 0; i < 16; ++i) {
    data[i].ids.assign(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + 128);
    data[i].target_start = 1;  // loss on every token, as the Python peer
  }
  std::vector<int64_t> all_rows(16);
  for (int64_t i = 0; i < 16; ++i) all_rows[i] = i;
  for (const Setup& setup : setups) {
    if (!only.empty() && only != setup.name) continue;
    torch::manual_seed(0);
    libra::nn::CausalLM model(config);
    libra::nn::AdapterConfig adapter;
    adapter.kind = setup.kind;
    adapter.lora.rank = 8;
    adapter.sparse.keep_ratio = setup.keep;
    adapter.sparse.block_size = setup.block;
    adapter.targets.names = setup.targets;
    if (!libra::nn::AttachAdapters(*model, adapter, 1).ok()) return 1;
    double mask_ms = 0;
    if (setup.kind == AdapterKind::kSparse) {
      auto calibration = [&](int64_t) {
        return libra::nn::TargetLoss(*model, data, all_rows, torch::kCPU);
      };
      for (int repeat = 0; repeat < 3; ++repeat) {  // the last of three (warm)
        const auto start = Clock::now();
        if (!libra::nn::UpdateSparseMasks(*model, adapter.sparse, calibration).ok()) return 1;
        mask_ms = Ms(start);
      }
    }
    int64_t trainable = 0, index_bytes = 0;
    for (auto& [name, p] : libra::nn::TrainableParameters(*model)) trainable += p.numel();
    for (auto& [name, sparse] : libra::nn::SparseAdapters(*model)) {
      index_bytes += sparse->indices.numel() * static_cast<int64_t>(sizeof(int64_t));
    }
    libra::nn::TrainOptions options;
    options.batch_size = 16;
    options.learning_rate = 1e-4;
    const std::optional<double> ms = libra::bench::MedianTrainStepMs(*model, data, options, steps);
    if (!ms) return 1;
    std::printf("libra %s ms %.1f trainable %lld adam_bytes %lld index_bytes %lld mask_ms %.1f\n",
                setup.name, *ms, static_cast<long long>(trainable),
                static_cast<long long>(2 * 4 * trainable), static_cast<long long>(index_bytes),
                mask_ms);
    std::fflush(stdout);
  }
  return 0;
}
