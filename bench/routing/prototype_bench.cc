// Arrow prototype computation at Phi-2 shape (not a test; bench/routing/run.sh).
//
//   prototype_bench RANK EXPERTS [MODULES=128] [DIM=2560]
//
// Computes the top right singular vector of dW = s B A for EXPERTS x MODULES
// LoRA modules of shape DIM x DIM with libra's low-rank method, one thread,
// and prints one JSON line: seconds, seconds per module, and the time
// extrapolated to 256 experts. The factors cycle through a pool of distinct
// random modules (generation is not timed).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "src/core/arrow/prototype.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: prototype_bench RANK EXPERTS [MODULES=128] [DIM=2560]\n");
    return 2;
  }
  const int rank = std::atoi(argv[1]);
  const int experts = std::atoi(argv[2]);
  const int modules = argc > 3 ? std::atoi(argv[3]) : 128;
  const int dim = argc > 4 ? std::atoi(argv[4]) : 2560;
  constexpr int kPool = 16;
  constexpr int kLibraryExperts = 256;
  const float scale = 16.0f / rank;  // alpha 16 as in the paper

  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<libra::Tensor> a_pool, b_pool;
  for (int i = 0; i < kPool; ++i) {
    libra::Tensor a = libra::Tensor::Zeros({rank, dim}), b = libra::Tensor::Zeros({dim, rank});
    for (float& v : a.values()) v = normal(rng) / 50.0f;
    for (float& v : b.values()) v = normal(rng) / 100.0f;
    a_pool.push_back(std::move(a));
    b_pool.push_back(std::move(b));
  }

  double checksum = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (int e = 0; e < experts; ++e) {
    for (int m = 0; m < modules; ++m) {
      const int i = (e * modules + m) % kPool;
      absl::StatusOr<libra::Tensor> p = libra::arrow::TopRightSingularVector(a_pool[i], b_pool[i], scale);
      if (!p.ok()) {
        std::fprintf(stderr, "libra: error: %s\n", std::string(p.status().message()).c_str());
        return 1;
      }
      checksum += p->at(0);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double per_module = seconds / (static_cast<double>(experts) * modules);
  std::printf(
      "{\"kind\": \"libra\", \"rank\": %d, \"dim\": %d, \"modules_timed\": %d, \"seconds\": %.6f, "
      "\"seconds_per_module\": %.9f, \"seconds_256_experts\": %.4f, \"checksum\": %.6f}\n",
      rank, dim, experts * modules, seconds, per_module,
      per_module * kLibraryExperts * modules, checksum);
  return 0;
}
