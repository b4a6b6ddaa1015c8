// Continual-learning heads by name, one flat table (no self-registering
// statics): "mlp" (src/nn/mlp_head.h), "nmc", "slda", "knn"
// (src/core/cl/). An unknown name is NotFound and lists the known ones.
//
//   LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<cl::Head> head,
//                          MakeClHead("slda", feature_dim, ClHeadOptions()));
#ifndef LIBRA_NN_CL_HEADS_H_
#define LIBRA_NN_CL_HEADS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/core/cl/head.h"
#include "src/nn/mlp_head.h"

namespace libra {

struct ClHeadOptions {
  MlpHeadOptions mlp;  // "mlp" only
  int knn_k = 5;       // "knn" only; > 0
};

std::vector<std::string> ClHeadNames();

absl::StatusOr<std::unique_ptr<cl::Head>> MakeClHead(const std::string& name,
                                                     int64_t feature_dim,
                                                     const ClHeadOptions& options);

}  // namespace libra

#endif  // LIBRA_NN_CL_HEADS_H_
