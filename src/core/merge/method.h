// Merge methods as data: what each method is called, which paper defines it,
// which parameters it takes, and the enums that configure the shared
// implementation. BindParams() checks a request against a MethodSpec before
// any tensor is read, so a bad request never starts a merge.
//
//   LIBRA_ASSIGN_OR_RETURN(const MethodSpec* ties, FindMethod("ties"));
//   MergeArguments args;
//   args.scalars["density"] = 0.2;
//   LIBRA_ASSIGN_OR_RETURN(MergeParams params, BindParams(*ties, args, 3));
#ifndef LIBRA_CORE_MERGE_METHOD_H_
#define LIBRA_CORE_MERGE_METHOD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace libra::merge {

// Which implementation a method runs.
enum class Family {
  kLinear,         // linear.cc: weighted sum (or mean) of task vectors
  kTaskArithmetic, // task_arithmetic.cc: sparsify, optional sign consensus, sum
  kSparseOverlap,  // sparse_overlap.cc: sum divided by mask coverage
};

// How task_arithmetic.cc trims each task vector before combining.
enum class Sparsification {
  kNone,
  kMagnitude,          // keep the top `density` fraction by |value|
  kRandom,             // DARE: keep with probability `density`, rescale 1/density
  kMagnitudeOutliers,  // breadcrumbs: drop the top `beta`, keep the next `density`
};

// How task_arithmetic.cc combines the trimmed task vectors.
enum class Consensus {
  kNone,  // lambda * sum_i w_i t_i (divided by sum_i w_i with normalize)
  kSign,  // TIES: elect sign(sum_i w_i t_i), disjoint weighted mean of agreeing entries
};

struct ParamSpec {
  const char* name;
  bool required;
  double default_value;
  double min;
  double max;
  bool min_exclusive;  // (min, max] rather than [min, max]
  bool per_expert;     // one value per expert (a single value is broadcast)
};

struct MethodSpec {
  const char* name;
  const char* paper_url;
  std::vector<ParamSpec> params;
  Family family = Family::kLinear;
  Sparsification sparsification = Sparsification::kNone;
  Consensus consensus = Consensus::kNone;
  bool uniform = false;  // weights fixed to 1 and normalised (the plain mean)
};

// Parameters as the user gave them (CLI flags, YAML), not yet checked.
struct MergeArguments {
  std::map<std::string, double> scalars;                  // "lambda" -> 0.5
  std::map<std::string, std::vector<double>> per_expert;  // "weight" -> {..}
};

// Parameters after BindParams: complete, in range, one per expert where needed.
struct MergeParams {
  std::vector<double> weights;    // one per expert
  std::vector<double> densities;  // one per expert
  double lambda = 1.0;
  double beta = 0.0;
  uint64_t seed = 0;
  bool normalize = false;
  int threads = 1;  // 1: no threads (WebAssembly), 2+: threads over row blocks
};

// Rejects unknown, missing and out-of-range parameters and per-expert lists
// whose length is not `num_experts`, naming the method and the parameter.
absl::StatusOr<MergeParams> BindParams(const MethodSpec& method, const MergeArguments& args,
                                       int num_experts);

// Key for the random stream of expert `expert` in module `module_name`
// (DARE): depends on the seed, the module and the expert only, never on
// threads or on the order modules are merged in.
uint64_t ModuleSeed(uint64_t seed, const std::string& module_name);

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_METHOD_H_
