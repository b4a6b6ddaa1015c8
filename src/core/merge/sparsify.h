// Sparsifiers: which entries of a task vector survive before combining.
//
// Magnitude selection keeps the entries whose |value| is at least the k-th
// largest |value|, k = floor(density * n): exactly k entries unless several
// share the threshold magnitude, which all stay (deterministic, no arbitrary
// tie-break). The threshold comes from a 32768-bin histogram of the float
// bits and std::nth_element on the one bin that holds it, in two streaming
// passes over row blocks: O(n), no copy of the task vector.
//
// DARE's random drop hashes (key, entry index), so a kept entry does not
// depend on threads, block sizes or merge order.
//
//   MagnitudeBand band = MagnitudeBandFor(view, Sparsification::kMagnitude, 0.2, 0.0);
//   bool kept = std::fabs(x) >= band.low && std::fabs(x) < band.high;
#ifndef LIBRA_CORE_MERGE_SPARSIFY_H_
#define LIBRA_CORE_MERGE_SPARSIFY_H_

#include <cstdint>

#include "src/core/merge/delta_view.h"
#include "src/core/merge/method.h"

namespace libra::merge {

// Entries kept out of n at `fraction` (floor, tolerant of 0.29 * 100).
int64_t KeepCount(double fraction, int64_t n);

// The k-th largest |value| of the view's entries, 1 <= k <= size.
float KthLargestMagnitude(const DeltaView& view, int64_t k);

// Entries with low <= |x| < high survive.
struct MagnitudeBand {
  float low = 0.0f;
  float high = 0.0f;
};

// kMagnitude: top `density`; kMagnitudeOutliers: the `density` fraction
// after the top `beta`; other sparsifications keep everything.
MagnitudeBand MagnitudeBandFor(const DeltaView& view, Sparsification sparsification,
                               double density, double beta);

// The random stream of one expert within one module.
uint64_t ExpertKey(uint64_t module_seed, int expert_index);

// DARE: whether entry `index` survives with probability `density`.
inline bool RandomKeep(uint64_t key, int64_t index, float density) {
  auto mix = [](uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
  };
  uint32_t h = mix(static_cast<uint32_t>(index) ^ static_cast<uint32_t>(key));
  h = mix(h ^ static_cast<uint32_t>(key >> 32) ^ static_cast<uint32_t>(index >> 32));
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f) < density;
}

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_SPARSIFY_H_
