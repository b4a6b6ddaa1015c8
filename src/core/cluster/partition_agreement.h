// How well two labelings of the same items agree.
//
// Normalized mutual information with the arithmetic normalisation
// (scikit-learn's default):
//   NMI(a, b) = 2 I(a; b) / (H(a) + H(b)),
// with natural-log entropies of the empirical label distributions. It is 1
// for partitions equal up to renaming, 0 for independent ones, and 1 when
// both labelings put every item in one cluster (H(a) = H(b) = 0).
//
//   LIBRA_ASSIGN_OR_RETURN(double nmi,
//                          cluster::NormalizedMutualInformation(kmeans, truth));
#ifndef LIBRA_CORE_CLUSTER_PARTITION_AGREEMENT_H_
#define LIBRA_CORE_CLUSTER_PARTITION_AGREEMENT_H_

#include <vector>

#include "absl/status/statusor.h"

namespace libra::cluster {

// An error when the labelings are empty or of different lengths.
absl::StatusOr<double> NormalizedMutualInformation(const std::vector<int>& a,
                                                   const std::vector<int>& b);

}  // namespace libra::cluster

#endif  // LIBRA_CORE_CLUSTER_PARTITION_AGREEMENT_H_
