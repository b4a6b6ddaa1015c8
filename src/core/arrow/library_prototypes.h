// Arrow prototypes of an expert library (src/core/library): stored as each
// LoRA expert's auxiliary file of kind "arrow"
// (DIR/aux/arrow/<expert>.safetensors, referenced from the manifest), tagged
// with the sha256 the manifest records for the expert's tensor file.
//
// RefreshLibraryPrototypes computes them for every LoRA expert that lacks
// them, whose file hash changed, or whose stored top_k differs; the scale of
// each module is the manifest's (LoraParams::ScaleOf: alpha / r, rsLoRA,
// rank and alpha patterns). LoadLibraryPrototypes reads one expert's, for a
// router that must not recompute them per step.
//
//   LIBRA_ASSIGN_OR_RETURN(ExpertLibrary library, ExpertLibrary::Open(dir));
//   LIBRA_ASSIGN_OR_RETURN(std::vector<arrow::LibraryRefresh> done,
//                          arrow::RefreshLibraryPrototypes(library, /*top_k=*/1));
//   LIBRA_ASSIGN_OR_RETURN(arrow::ExpertPrototypes p,
//                          arrow::LoadLibraryPrototypes(library, "cola"));
#ifndef LIBRA_CORE_ARROW_LIBRARY_PROTOTYPES_H_
#define LIBRA_CORE_ARROW_LIBRARY_PROTOTYPES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/arrow/expert_prototypes.h"
#include "src/core/arrow/prototype_cache.h"
#include "src/core/library/expert_library.h"

namespace libra::arrow {

inline constexpr char kPrototypesAuxiliaryKind[] = "arrow";

struct LibraryRefresh {
  std::string expert;
  RefreshOutcome outcome = RefreshOutcome::kComputed;
  int modules = 0;
};

// In manifest order. Stops at the first expert that fails, naming it;
// experts already refreshed keep their new files.
absl::StatusOr<std::vector<LibraryRefresh>> RefreshLibraryPrototypes(ExpertLibrary& library,
                                                                     int top_k = 1);

// The stored prototypes of `expert`; FailedPrecondition if they are missing
// or stale (run RefreshLibraryPrototypes / `libra arrow DIR`).
absl::StatusOr<ExpertPrototypes> LoadLibraryPrototypes(const ExpertLibrary& library,
                                                       absl::string_view expert);

}  // namespace libra::arrow

#endif  // LIBRA_CORE_ARROW_LIBRARY_PROTOTYPES_H_
