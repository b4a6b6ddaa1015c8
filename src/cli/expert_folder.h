// The experts of a library folder, for commands that read every expert
// (`libra arrow`, `libra cluster`): DIR/<name>.safetensors, sorted by name,
// as `libra merge` reads them. Auxiliary per-expert files of kind K live in
// DIR/<K>/<name>.safetensors, a sub-folder that expert listings skip.
//
//   LIBRA_ASSIGN_OR_RETURN(std::vector<FolderExpert> experts, ListFolderExperts(dir));
//   const std::string aux = AuxiliaryPath(dir, "arrow", experts[0].name);
#ifndef LIBRA_CLI_EXPERT_FOLDER_H_
#define LIBRA_CLI_EXPERT_FOLDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace libra::cli {

struct FolderExpert {
  std::string name;
  std::string path;
};

absl::StatusOr<std::vector<FolderExpert>> ListFolderExperts(const std::string& dir);

std::string AuxiliaryPath(const std::string& dir, const std::string& kind,
                          const std::string& name);

// Creates DIR/aux/<kind> if missing.
absl::Status MakeAuxiliaryFolder(const std::string& dir, const std::string& kind);

}  // namespace libra::cli

#endif  // LIBRA_CLI_EXPERT_FOLDER_H_
