// Merge time of 20 sparse experts with sparse_overlap, on the sparse form
// (MergeSparseOverlap: indices and values, output the union) against the
// same merge done densely (each expert densified to [out, in], then
// MergeSparseOverlapViews, 2 threads), module by module. Modules: 16 of
// 1024 x 1024 (8 layers x q, v of a d=1024 model); masks uniform random at
// keep ratio 5% and 1%. Also prints the overlap growth of the masks.
//
//   sparse_merge_bench [--experts 20] [--modules 16] [--dim 1024] [--threads 2]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "src/core/merge/delta_view.h"
#include "src/core/merge/mask_overlap.h"
#include "src/core/merge/sparse_overlap.h"

namespace {

using Clock = std::chrono::steady_clock;
using libra::merge::SparseDelta;

double Ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

SparseDelta RandomMask(int64_t dim, double keep, std::mt19937_64& rng) {
  const int64_t size = dim * dim, nnz = static_cast<int64_t>(keep * size);
  std::vector<int64_t> all(size);
  for (int64_t i = 0; i < size; ++i) all[i] = i;
  // Partial Fisher-Yates: the first nnz entries are a uniform sample.
  for (int64_t i = 0; i < nnz; ++i) std::swap(all[i], all[i + rng() % (size - i)]);
  std::vector<int64_t> indices(all.begin(), all.begin() + nnz);
  std::sort(indices.begin(), indices.end());
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<float> values(nnz);
  // Non-zero: the dense form cannot tell a stored 0 from an absent entry.
  for (float& v : values) {
    do v = normal(rng); while (v == 0.0f);
  }
  return SparseDelta{{dim, dim}, std::move(indices), std::move(values)};
}

}  // namespace

int main(int argc, char** argv) {
  int experts = 20, modules = 16, threads = 2;
  int64_t dim = 1024;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--experts")) experts = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--modules")) modules = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dim")) dim = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  for (double keep : {0.05, 0.01}) {
    std::mt19937_64 rng(1);
    double sparse_ms = 0, densify_ms = 0, dense_ms = 0, max_diff = 0;
    int64_t union_nnz = 0;
    std::vector<libra::merge::ExpertMasks> masks(experts);
    for (int m = 0; m < modules; ++m) {
      std::vector<SparseDelta> inputs;
      for (int e = 0; e < experts; ++e) inputs.push_back(RandomMask(dim, keep, rng));
      auto start = Clock::now();
      auto merged = libra::merge::MergeSparseOverlap(inputs);
      sparse_ms += Ms(start);
      if (!merged.ok()) return 1;
      union_nnz += static_cast<int64_t>(merged->indices.size());
      start = Clock::now();
      std::vector<libra::Tensor> dense;
      for (const SparseDelta& s : inputs) dense.push_back(libra::merge::Densify(s));
      densify_ms += Ms(start);
      std::vector<libra::merge::DeltaView> views;
      for (const libra::Tensor& t : dense) views.push_back(libra::merge::DeltaView::Dense(t));
      std::vector<float> out(dim * dim);
      start = Clock::now();
      if (!libra::merge::MergeSparseOverlapViews(views, threads, out.data()).ok()) return 1;
      dense_ms += Ms(start);
      for (size_t k = 0; k < merged->indices.size(); ++k) {
        const double d = std::fabs(static_cast<double>(out[merged->indices[k]]) - merged->values[k]);
        max_diff = std::max(max_diff, d);
      }
      for (int e = 0; e < experts; ++e) {
        masks[e]["m" + std::to_string(m)] = SparseDelta{inputs[e].shape, inputs[e].indices, {}};
      }
    }
    std::printf("merge keep %.2f experts %d modules %d dim %lld: sparse_ms %.1f dense_ms %.1f "
                "densify_ms %.1f union_nnz %lld max_diff %.2e\n",
                keep, experts, modules, static_cast<long long>(dim), sparse_ms, dense_ms, densify_ms,
                static_cast<long long>(union_nnz), max_diff);
    auto curve = libra::merge::OverlapGrowth(masks);
    if (!curve.ok()) return 1;
    for (const auto& p : *curve) {
      if (p.experts == 2 || p.experts == 5 || p.experts == 10 || p.experts == experts) {
        std::printf("overlap keep %.2f experts %lld union_fraction %.4f shared_fraction %.4f\n", keep,
                    static_cast<long long>(p.experts), p.union_fraction(), p.shared_fraction());
      }
    }
    std::fflush(stdout);
  }
  return 0;
}
