// Per-token Arrow routing overhead on the LibTorch model (not a test;
// bench/routing/run_overhead.sh). Prints one JSON line per configuration.
//
//   routing_overhead_bench [EXPERTS=10] [TOP_K=4] [REPEATS=3]
//
// A random Llama-family model (d 256, 4 layers, 8 heads, SwiGLU 688, vocab
// 260), rank-4 LoRA experts on q/k/v/o of every layer. Peers, all in this
// one process on one thread, timed in alternation (best of REPEATS):
//   merged:  one LoRA (the uniform ab merge of the experts) attached as a LoRA
//   arrow:   Arrow top-k routing per token and module, output mixing
//   arrow_param: the same with parameter mixing
// Workloads: prefill (batch 4 x 128 tokens, one forward) and decode (batch 1,
// 16-token prompt then 64 tokens one at a time with the KV cache).
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bench/common/bench_model.h"
#include "src/core/merge/merge.h"
#include "src/nn/adapters.h"
#include "src/nn/arrow_router.h"
#include "src/nn/expert.h"
#include "src/nn/model.h"
#include "src/nn/reuse_baselines.h"
#include "src/nn/runtime.h"

namespace {

using namespace libra::nn;  // NOLINT: a benchmark's main

double Seconds(const std::function<void()>& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int experts = argc > 1 ? std::atoi(argv[1]) : 10;
  const int top_k = argc > 2 ? std::atoi(argv[2]) : 4;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  libra::ConfigureRuntime(1);
  torch::NoGradGuard no_grad;

  ModelConfig config = libra::bench::BenchLlama();
  config.num_attention_heads = 8;
  config.num_key_value_heads = 8;
  config.max_position_embeddings = 256;
  torch::manual_seed(1);
  std::vector<CausalLM> models;  // merged, arrow, arrow_param
  for (int i = 0; i < 3; ++i) {
    torch::manual_seed(1);
    models.emplace_back(config);
    models.back()->eval();
  }
  std::vector<std::vector<ExpertModule>> library(experts);
  torch::manual_seed(2);
  for (auto& [name, linear] : models[0]->Linears()) {
    const bool target = name.find("self_attn") != std::string::npos;
    if (!target) continue;
    for (int e = 0; e < experts; ++e) {
      ExpertModule m;
      m.module = name;
      m.lora_a = torch::randn({4, linear->options.in_features()}) * 0.05;
      m.lora_b = torch::randn({linear->options.out_features(), 4}) * 0.05;
      m.scale = 4.0;
      library[e].push_back(m);
    }
  }
  auto merged = MergeExperts(library, "uniform", {}, libra::merge::LoraMode::kAb);
  if (!merged.ok() || !ApplyExpert(*models[0], *merged, false).ok()) {
    std::fprintf(stderr, "routing_overhead_bench: merge failed\n");
    return 1;
  }
  ArrowOptions options;
  options.top_k = top_k;
  if (!AttachArrow(*models[1], library, options, MixingMode::kOutput).ok() ||
      !AttachArrow(*models[2], library, options, MixingMode::kParameter).ok()) {
    std::fprintf(stderr, "routing_overhead_bench: Arrow attach failed\n");
    return 1;
  }
  const char* names[] = {"merged", "arrow", "arrow_param"};

  torch::manual_seed(3);
  const torch::Tensor prefill_ids = torch::randint(0, 260, {4, 128});
  const torch::Tensor prompt = torch::randint(0, 260, {1, 16});
  const int64_t decode_tokens = 64;
  auto prefill = [&](CausalLM& m) { m->forward(prefill_ids); };
  auto decode = [&](CausalLM& m) {
    KvCache cache;
    torch::Tensor logits = m->forward(prompt, &cache);
    for (int64_t t = 0; t < decode_tokens; ++t) {
      torch::Tensor next = logits.select(1, logits.size(1) - 1).argmax(-1).unsqueeze(1);
      logits = m->forward(next, &cache);
    }
  };
  std::vector<double> best_prefill(3, 1e30), best_decode(3, 1e30);
  for (int i = 0; i < 3; ++i) {  // warm-up
    prefill(models[i]);
    decode(models[i]);
  }
  for (int r = 0; r < repeats; ++r) {
    for (int i = 0; i < 3; ++i) {
      best_prefill[i] = std::min(best_prefill[i], Seconds([&] { prefill(models[i]); }));
      best_decode[i] = std::min(best_decode[i], Seconds([&] { decode(models[i]); }));
    }
  }
  for (int i = 0; i < 3; ++i) {
    std::printf(
        "{\"peer\": \"%s\", \"experts\": %d, \"top_k\": %d, \"prefill_tokens_per_s\": %.1f, "
        "\"decode_tokens_per_s\": %.1f}\n",
        names[i], experts, top_k, 4 * 128 / best_prefill[i], decode_tokens / best_decode[i]);
  }
  return 0;
}
