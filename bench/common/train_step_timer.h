// The training-step time the training benchmarks report: the median
// milliseconds of one optimizer step (nn::Train with max_steps 1: forward,
// backward, clipping, AdamW and whatever hooks `options` carries) over
// `steps` steps, after `warmup` steps that are not counted.
#ifndef LIBRA_BENCH_COMMON_TRAIN_STEP_TIMER_H_
#define LIBRA_BENCH_COMMON_TRAIN_STEP_TIMER_H_

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "src/nn/model.h"
#include "src/nn/trainer.h"

namespace libra::bench {

// nullopt when a step fails.
inline std::optional<double> MedianTrainStepMs(nn::CausalLMImpl& model,
                                               const std::vector<nn::TokenizedExample>& data,
                                               nn::TrainOptions options, int steps, int warmup = 2) {
  options.max_steps = 1;
  options.progress = false;
  std::vector<double> times;
  for (int s = 0; s < steps + warmup; ++s) {
    const auto start = std::chrono::steady_clock::now();
    if (!nn::Train(model, data, options).ok()) return std::nullopt;
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    if (s >= warmup) times.push_back(elapsed.count());
  }
  if (times.empty()) return std::nullopt;
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace libra::bench

#endif  // LIBRA_BENCH_COMMON_TRAIN_STEP_TIMER_H_
