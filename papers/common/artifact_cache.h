// A folder cache for expensive artifacts (a pretrained base model, an expert
// library), keyed by a hash of (kind, configuration, producer version).
//
// The key's material is the kind, the configuration as canonical JSON (keys
// sorted) and the producer's own version string, which its code bumps when a
// change alters what it builds. (A git commit would invalidate every cache on
// every commit.) An entry is ROOT/<kind>/<hash>/ holding the artifact's files
// and key.json (the material); a lookup checks key.json, so a hash collision
// or a foreign folder is rebuilt, never reused. Building happens in a temp
// folder next to the entry, which is renamed into place when complete: a
// crash leaves no half entry, and of two concurrent builders one wins and the
// other's copy is dropped.
//
//   ArtifactCache cache(ArtifactCache::DefaultRoot());
//   ArtifactKey key{"base_model", config_json, "pretrain-v3"};
//   LIBRA_ASSIGN_OR_RETURN(std::string dir, cache.GetOrBuild(key,
//       [&](const std::string& tmp) { return Pretrain(config, tmp); }));
#ifndef LIBRA_PAPERS_COMMON_ARTIFACT_CACHE_H_
#define LIBRA_PAPERS_COMMON_ARTIFACT_CACHE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace libra::papers {

struct ArtifactKey {
  std::string kind;            // a folder name: [A-Za-z0-9_.-]+
  nlohmann::json config;       // everything the artifact depends on
  std::string code_version;    // the producer's version

  std::string Material() const;  // canonical text that is hashed
  std::string Hash() const;      // 32 hex digits
};

class ArtifactCache {
 public:
  // $LIBRA_CACHE, else ~/.cache/libra/artifacts (the home folder from $HOME,
  // else the password database: a Bazel action has no $HOME, and a build
  // rule must find the same cache as `./run`), else ./.libra-cache.
  static std::string DefaultRoot();

  explicit ArtifactCache(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  std::string PathFor(const ArtifactKey& key) const;
  // True when a complete entry with this key's material exists.
  bool Contains(const ArtifactKey& key) const;

  using Builder = std::function<absl::Status(const std::string& dir)>;
  // The entry's folder; `build` fills an empty temp folder when the entry is
  // missing. `hit` (optional) tells whether it was reused. A failed build
  // leaves nothing behind and returns its error.
  absl::StatusOr<std::string> GetOrBuild(const ArtifactKey& key, const Builder& build,
                                         bool* hit = nullptr) const;

 private:
  std::string root_;
};

// What an artifact built from the files of `dir` should be keyed on, rather
// than the folder's path (a path given by a flag, or a Bazel output rebuilt in
// place, can hold different files from run to run). 32 hex digits over every
// regular file's relative name and size, and its bytes while the bytes read so
// far (in name order) stay within `content_limit`, else its modification time
// (hashing a multi-GB checkpoint or data set on every run would cost more
// than it saves).
absl::StatusOr<std::string> FolderFingerprint(const std::string& dir,
                                              int64_t content_limit = int64_t{64} << 20);

// Copies `files` of the artifact folder `dir` into `out` (created, files
// overwritten): how a build rule hands a cached artifact (a pretrained base
// model) to tests as a build output.
absl::Status CopyArtifactFiles(const std::string& dir, const std::vector<std::string>& files,
                               const std::string& out);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_ARTIFACT_CACHE_H_
