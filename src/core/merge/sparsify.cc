#include "src/core/merge/sparsify.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

namespace libra::merge {
namespace {

constexpr int64_t kBlockElements = 1 << 15;
constexpr int kBinShift = 16;  // |x| bits >> 16: sign-free exponent + 7 mantissa bits
constexpr uint32_t kBins = 1u << (31 - kBinShift);

inline uint32_t MagnitudeBits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits & 0x7fffffffu;
}

// Calls visit(values, n) for each row block of the view.
template <typename Visit>
void ForEachBlock(const DeltaView& view, Visit visit) {
  const int64_t block_rows = RowsPerBlock(view.cols, kBlockElements);
  std::unique_ptr<float[]> scratch(new float[block_rows * view.cols]);
  for (int64_t begin = 0; begin < view.rows; begin += block_rows) {
    const int64_t end = std::min(view.rows, begin + block_rows);
    visit(view.Rows(begin, end, scratch.get()), (end - begin) * view.cols);
  }
}

}  // namespace

int64_t KeepCount(double fraction, int64_t n) {
  const double exact = fraction * static_cast<double>(n);
  return std::min<int64_t>(n, static_cast<int64_t>(std::floor(exact * (1.0 + 1e-12) + 1e-9)));
}

float KthLargestMagnitude(const DeltaView& view, int64_t k) {
  // Pass 1: histogram of magnitude bits; the k-th largest lies in bin `bin`.
  std::vector<int64_t> histogram(kBins, 0);
  ForEachBlock(view, [&](const float* values, int64_t n) {
    for (int64_t j = 0; j < n; ++j) ++histogram[MagnitudeBits(values[j]) >> kBinShift];
  });
  int64_t above = 0;
  uint32_t bin = kBins - 1;
  while (bin > 0 && above + histogram[bin] < k) above += histogram[bin--];
  // Pass 2: nth_element over that bin's entries only.
  std::vector<uint32_t> candidates;
  candidates.reserve(histogram[bin]);
  ForEachBlock(view, [&](const float* values, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t bits = MagnitudeBits(values[j]);
      if ((bits >> kBinShift) == bin) candidates.push_back(bits);
    }
  });
  const int64_t position = k - above - 1;  // 0-based, descending
  std::nth_element(candidates.begin(), candidates.begin() + position, candidates.end(),
                   std::greater<uint32_t>());
  float result;
  std::memcpy(&result, &candidates[position], sizeof(result));
  return result;
}

MagnitudeBand MagnitudeBandFor(const DeltaView& view, Sparsification sparsification,
                               double density, double beta) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const int64_t n = view.size();
  MagnitudeBand band{0.0f, kInf};
  if (n == 0) return band;
  if (sparsification == Sparsification::kMagnitude) {
    const int64_t keep = KeepCount(density, n);
    band.low = keep > 0 ? KthLargestMagnitude(view, keep) : kInf;
  } else if (sparsification == Sparsification::kMagnitudeOutliers) {
    const int64_t top = KeepCount(beta, n);
    const int64_t keep = KeepCount(density, n);
    band.high = top > 0 ? KthLargestMagnitude(view, top) : kInf;
    band.low = keep > 0 ? KthLargestMagnitude(view, std::min(n, top + keep)) : kInf;
  }
  return band;
}

uint64_t ExpertKey(uint64_t module_seed, int expert_index) {
  uint64_t z = module_seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(expert_index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace libra::merge
