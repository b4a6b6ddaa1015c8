// Data-parallel gradient all-reduce: libra's bucketed AllReduceGradients on 2
// ranks (Gloo, 127.0.0.1) over the gradients of a model shaped like the
// trainer benchmark's (3.4M float parameters in 26 tensors), against one flat
// all-reduce of the same bytes and a memcpy of them.
//
//   bazel run //bench/ddp:allreduce_bench -- [ITERATIONS]   # prints one JSON line
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "src/nn/distributed.h"
#include "src/nn/launcher.h"

namespace {

using Clock = std::chrono::steady_clock;

// d_model 256, 4 layers, vocab 256: embeddings, per layer q/k/v/o + 2 norms
// + a 4x MLP, and a head.
std::vector<at::Tensor> ModelShapedGradients() {
  std::vector<at::Tensor> grads = {at::randn({256, 256})};
  for (int layer = 0; layer < 4; ++layer) {
    for (int i = 0; i < 4; ++i) grads.push_back(at::randn({256, 256}));
    grads.push_back(at::randn({1024, 256}));
    grads.push_back(at::randn({256, 1024}));
  }
  grads.push_back(at::randn({256, 256}));
  grads.push_back(at::randn({256}));
  return grads;
}

template <typename F>
double MedianMs(int iterations, F&& body) {
  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    body();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int Worker(int iterations) {
  at::set_num_threads(1);
  auto dist = libra::nn::DistributedContext::FromEnvironment();
  if (!dist.ok()) {
    std::fprintf(stderr, "%s\n", std::string(dist.status().message()).c_str());
    return 1;
  }
  std::vector<at::Tensor> params;
  int64_t numel = 0;
  for (const at::Tensor& g : ModelShapedGradients()) {
    at::Tensor p = at::zeros_like(g).requires_grad_();
    p.mutable_grad() = g;
    params.push_back(p);
    numel += g.numel();
  }
  at::Tensor flat = at::randn({numel});
  bool ok = true;
  auto run = [&](auto&& call) {
    ok = ok && call().ok();
  };
  run([&] { return (*dist)->AllReduceGradients(params); });  // warm up
  const double bucketed =
      MedianMs(iterations, [&] { run([&] { return (*dist)->AllReduceGradients(params); }); });
  const double one_flat =
      MedianMs(iterations, [&] { run([&] { return (*dist)->AllReduceMean({flat}); }); });
  std::vector<float> src(numel, 1.0f), dst(numel);
  const double copy = MedianMs(iterations, [&] {
    std::memcpy(dst.data(), src.data(), numel * sizeof(float));
  });
  volatile float sink = dst[numel - 1];  // keeps the copies
  (void)sink;
  if (!ok) return 1;
  if ((*dist)->is_main()) {
    std::printf(
        "{\"world\": %d, \"params\": %lld, \"tensors\": %zu, \"bucketed_ms\": %.3f, "
        "\"one_flat_ms\": %.3f, \"memcpy_ms\": %.3f}\n",
        (*dist)->world_size(), static_cast<long long>(numel), params.size(), bucketed, one_flat,
        copy);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 20;
  if (libra::nn::IsLaunchedWorker()) return Worker(iterations);
  libra::nn::LaunchOptions options;
  options.timeout = std::chrono::minutes(5);
  const absl::Status status = libra::nn::LaunchWorkers(argc, argv, 2, options);
  if (!status.ok()) {
    std::fprintf(stderr, "allreduce_bench: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
