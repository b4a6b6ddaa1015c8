// Mask statistics of sparse experts (paper (b)): how much two experts' masks
// overlap (Jaccard, per module and per layer), and how overlap grows as more
// experts are merged (entries covered by two or more masks, union size).
// sparse_overlap divides each entry by its cover count, so these numbers say
// how much of a merge is averaging and how much is plain union.
//
//   std::map<std::string, SparseDelta> a = ..., b = ...;  // module -> mask
//   LIBRA_ASSIGN_OR_RETURN(std::vector<ModuleOverlap> modules, MaskOverlapByModule(a, b));
//   std::vector<LayerOverlap> layers = OverlapByLayer(modules);
//   LIBRA_ASSIGN_OR_RETURN(std::vector<OverlapGrowthPoint> curve, OverlapGrowth({a, b, c}));
#ifndef LIBRA_CORE_MERGE_MASK_OVERLAP_H_
#define LIBRA_CORE_MERGE_MASK_OVERLAP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/core/merge/sparse_overlap.h"

namespace libra::merge {

// A sparse expert's masks by module; only shapes and indices are read.
using ExpertMasks = std::map<std::string, SparseDelta>;

struct MaskOverlap {
  int64_t intersection = 0;
  int64_t union_size = 0;
  // |A n B| / |A u B|; 1 when both masks are empty (identical).
  double jaccard() const;
};

// Errors: shapes differ, an index out of range or repeated.
absl::StatusOr<MaskOverlap> CompareMasks(const SparseDelta& a, const SparseDelta& b);

struct ModuleOverlap {
  std::string module;
  MaskOverlap overlap;
};

// Every module both experts have, sorted by name. Errors name the module.
absl::StatusOr<std::vector<ModuleOverlap>> MaskOverlapByModule(const ExpertMasks& a,
                                                              const ExpertMasks& b);

// Layer index of a module name ("model.layers.3.self_attn.q_proj" -> 3), or
// -1 when it has no "layers.<n>." part.
int64_t LayerOfModule(const std::string& module);

struct LayerOverlap {
  int64_t layer = -1;
  MaskOverlap overlap;  // counts summed over the layer's modules
};

// Ascending by layer.
std::vector<LayerOverlap> OverlapByLayer(absl::Span<const ModuleOverlap> modules);

struct OverlapGrowthPoint {
  int64_t experts = 0;     // the first `experts` experts merged
  int64_t union_size = 0;  // entries covered by at least one mask
  int64_t shared = 0;      // entries covered by at least two masks
  int64_t total = 0;       // entries of the modules seen so far (dense size)
  double shared_fraction() const;  // shared / union_size (0 for an empty union)
  double union_fraction() const;   // union_size / total (0 when total is 0)
};

// One point per prefix of `experts` (in the given order), over all modules.
// A module's shape must agree across experts. Cost O(total nnz).
absl::StatusOr<std::vector<OverlapGrowthPoint>> OverlapGrowth(absl::Span<const ExpertMasks> experts);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_MASK_OVERLAP_H_
