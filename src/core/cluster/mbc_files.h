// MBC over LoRA expert files, streaming: at most one expert's flattened
// vector plus one module across all experts is in memory at a time.
//
// Pass 1 reads each expert once to find its sparsity threshold; pass 2 goes
// module by module (the files stay memory-mapped), zeroes each expert's
// entries at or below its threshold and accumulates the Gram matrix; then
// ClusterFromGram (mbc.h). Every expert must have the same LoRA modules
// with the same shapes; the error names the first file that differs.
//
//   cluster::MbcOptions options;
//   options.k = 10;
//   LIBRA_ASSIGN_OR_RETURN(cluster::MbcResult r, cluster::ClusterLoraFiles(paths, options));
#ifndef LIBRA_CORE_CLUSTER_MBC_FILES_H_
#define LIBRA_CORE_CLUSTER_MBC_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/cluster/mbc.h"

namespace libra::cluster {

absl::StatusOr<MbcResult> ClusterLoraFiles(const std::vector<std::string>& paths,
                                           const MbcOptions& options);

}  // namespace libra::cluster

#endif  // LIBRA_CORE_CLUSTER_MBC_FILES_H_
