// Training step time of mixtures of LoRA experts with learned routers
// (src/nn/mope.h: pe, pt, posterior; E = 8 experts of rank 4) against one
// LoRA of rank 4 (the authors' dense baseline, E times fewer adapter
// parameters) and one of rank 32 (parameter-matched), on the bench/train
// model (vocab 260, d_model 256, 4 layers, seq 128, batch 16) with the
// testbed's targets (q, k, v, o). One line per condition: median ms per
// step (forward, backward, clipping, AdamW; the posterior's KL term
// included), tokens per second, trainable elements, and the step time
// relative to LoRA rank 4 measured in the same process.
//
//   mope_bench [--threads 2] [--steps 10]
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
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
#include "src/nn/mope.h"
#include "src/nn/runtime.h"
#include "src/nn/trainer.h"

namespace {

using libra::nn::MopeRouter;

constexpr int64_t kBatch = 16, kSeq = 128, kExperts = 8, kRank = 4;

struct Condition {
  const char* name;
  std::optional<MopeRouter> router;  // none: one LoRA
  int64_t rank;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 10;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
  }
  libra::ConfigureRuntime(threads);
  const std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
  const std::vector<Condition> conditions = {
      {"lora_r4", std::nullopt, kRank},
      {"lora_r32", std::nullopt, kExperts * kRank},
      {"mope_pe_e8_r4", MopeRouter::kPerExample, kRank},
      {"mope_pt_e8_r4", MopeRouter::kPerToken, kRank},
      {"mope_posterior_e8_r4", MopeRouter::kPosterior, kRank},
  };
  torch::manual_seed(0);
  const torch::Tensor ids = torch::randint(0, 260, {kBatch, kSeq});
  std::vector<libra::nn::TokenizedExample> data(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) {
    data[i].ids.assign(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + kSeq);
    // A 32-token prompt: the per-example routers average over it.
    data[i].target_start = 32;
  }
  double baseline_ms = 0;
  for (const Condition& c : conditions) {
    torch::manual_seed(0);
    libra::nn::CausalLM model(libra::bench::BenchLlama());
    libra::nn::TrainOptions options;
    options.batch_size = kBatch;
    options.learning_rate = 1e-4;
    if (c.router) {
      libra::nn::MopeOptions mope;
      mope.experts = kExperts;
      mope.lora.rank = c.rank;
      mope.router = *c.router;
      mope.targets.names = targets;
      auto attached = libra::nn::AttachMope(*model, mope, 1);
      if (!attached.ok()) {
        std::fprintf(stderr, "%s: %s\n", c.name, std::string(attached.status().message()).c_str());
        return 1;
      }
      options.auxiliary_loss = attached->AuxiliaryLoss();
    } else {
      libra::nn::AdapterConfig adapter;
      adapter.lora.rank = c.rank;
      adapter.targets.names = targets;
      if (!libra::nn::AttachAdapters(*model, adapter, 1).ok()) return 1;
    }
    int64_t trainable = 0;
    for (auto& [name, p] : libra::nn::TrainableParameters(*model)) trainable += p.numel();
    const std::optional<double> step_ms = libra::bench::MedianTrainStepMs(*model, data, options, steps);
    if (!step_ms) return 1;
    const double ms = *step_ms;
    if (baseline_ms == 0) baseline_ms = ms;
    std::printf("libra %s ms %.1f tokens_per_s %.0f trainable %lld ratio_to_lora_r4 %.2f\n", c.name,
                ms, kBatch * kSeq / (ms / 1000.0), static_cast<long long>(trainable),
                ms / baseline_ms);
    std::fflush(stdout);
  }
  return 0;
}
