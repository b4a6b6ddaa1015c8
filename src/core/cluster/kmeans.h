// k-means (Lloyd) with k-means++ initialisation, restarts and a seed.
//
// Each restart seeds k centres by k-means++ (the first uniformly at random,
// each next one with probability proportional to the squared distance to
// the nearest chosen centre), then alternates assignment (nearest centre,
// the lower index on ties) and mean updates until no assignment changes or
// max_iterations. A centre that loses all its points moves to the point
// farthest from its own centre. The restart with the lowest inertia (sum of
// squared distances to the assigned centre) wins, the earliest on ties.
// Cluster labels are renumbered by first appearance (point 0 is in cluster
// 0), so equal partitions print equally.
//
// Randomness comes only from std::mt19937_64(seed), whose sequence the C++
// standard fixes, turned into doubles by bit shifting: the same seed gives
// the same clusters natively and under WebAssembly.
//
//   cluster::KMeansOptions options;
//   options.k = 3;
//   options.seed = 42;
//   LIBRA_ASSIGN_OR_RETURN(cluster::KMeansResult r, cluster::KMeans(points, options));
//   // r.assignment[i] in [0, 3), r.centroids [3, d], r.inertia
#ifndef LIBRA_CORE_CLUSTER_KMEANS_H_
#define LIBRA_CORE_CLUSTER_KMEANS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/tensor.h"

namespace libra::cluster {

struct KMeansOptions {
  int k = 10;
  int restarts = 10;
  int max_iterations = 300;
  uint64_t seed = 42;
};

struct KMeansResult {
  std::vector<int> assignment;  // [n], labels in [0, k)
  Tensor centroids;             // [k, d]
  double inertia = 0.0;
  int iterations = 0;  // Lloyd iterations of the winning restart
};

// `points` [n, d], 1 <= k <= n.
absl::StatusOr<KMeansResult> KMeans(const Tensor& points, const KMeansOptions& options);

}  // namespace libra::cluster

#endif  // LIBRA_CORE_CLUSTER_KMEANS_H_
