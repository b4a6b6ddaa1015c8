#include "src/cli/expert_folder.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace libra::cli {

absl::StatusOr<std::vector<FolderExpert>> ListFolderExperts(const std::string& dir) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return absl::NotFoundError(absl::StrCat("cannot open folder (", dir, ")"));
  std::vector<FolderExpert> experts;
  constexpr absl::string_view kSuffix = ".safetensors";
  while (dirent* entry = readdir(handle)) {
    const std::string file = entry->d_name;
    if (!absl::EndsWith(file, kSuffix) || file[0] == '.') continue;
    const std::string path = absl::StrCat(dir, "/", file);
    struct stat info;
    if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    experts.push_back({file.substr(0, file.size() - kSuffix.size()), path});
  }
  closedir(handle);
  std::sort(experts.begin(), experts.end(),
            [](const FolderExpert& a, const FolderExpert& b) { return a.name < b.name; });
  if (experts.empty()) {
    return absl::NotFoundError(absl::StrCat("no experts (*.safetensors) in ", dir));
  }
  return experts;
}

std::string AuxiliaryPath(const std::string& dir, const std::string& kind,
                          const std::string& name) {
  return absl::StrCat(dir, "/aux/", kind, "/", name, ".safetensors");
}

absl::Status MakeAuxiliaryFolder(const std::string& dir, const std::string& kind) {
  for (const std::string& path : {absl::StrCat(dir, "/aux"), absl::StrCat(dir, "/aux/", kind)}) {
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("cannot create folder: ", std::strerror(errno), " (", path, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace libra::cli
