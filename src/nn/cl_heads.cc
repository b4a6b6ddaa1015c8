#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/cl_heads.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/core/cl/knn_head.h"
#include "src/core/cl/nmc_head.h"
#include "src/core/cl/slda_head.h"
#include "src/core/status_macros.h"

namespace libra {

std::vector<std::string> ClHeadNames() { return {"mlp", "nmc", "slda", "knn"}; }

absl::StatusOr<std::unique_ptr<cl::Head>> MakeClHead(const std::string& name,
                                                     int64_t feature_dim,
                                                     const ClHeadOptions& options) {
  if (name == "mlp") return std::unique_ptr<cl::Head>(new MlpHead(feature_dim, options.mlp));
  if (name == "nmc") return std::unique_ptr<cl::Head>(new cl::NmcHead());
  if (name == "slda") return std::unique_ptr<cl::Head>(new cl::SldaHead());
  if (name == "knn") {
    LIBRA_ASSIGN_OR_RETURN(cl::KnnHead knn, cl::KnnHead::Create(options.knn_k));
    return std::unique_ptr<cl::Head>(new cl::KnnHead(std::move(knn)));
  }
  return absl::NotFoundError(absl::StrCat("unknown head \"", name, "\" (known: ",
                                          absl::StrJoin(ClHeadNames(), ", "), ")"));
}

}  // namespace libra
