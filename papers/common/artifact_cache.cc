#include "papers/common/artifact_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::papers {

namespace fs = std::filesystem;

namespace {

uint64_t Fnv1a(const std::string& bytes, uint64_t basis) {
  uint64_t h = basis;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool ValidKind(const std::string& kind) {
  if (kind.empty() || kind[0] == '.') return false;
  for (char c : kind) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

constexpr char kKeyFile[] = "key.json";

// 32 hex digits: two FNV-1a passes with different bases, mixed.
std::string HashHex(const std::string& bytes) {
  return absl::StrFormat("%016x%016x", Mix(Fnv1a(bytes, 0xCBF29CE484222325ull)),
                         Mix(Fnv1a(bytes, 0x84222325CBF29CE4ull) ^ bytes.size()));
}

}  // namespace

std::string ArtifactKey::Material() const {
  // nlohmann's default object type is an ordered std::map: dump() is canonical.
  return nlohmann::json{{"kind", kind}, {"config", config}, {"code_version", code_version}}.dump();
}

std::string ArtifactKey::Hash() const { return HashHex(Material()); }

absl::StatusOr<std::string> FolderFingerprint(const std::string& dir, int64_t content_limit) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a folder"));
  }
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_regular_file(error)) files.push_back(it->path());
  }
  if (error) return absl::InternalError(absl::StrCat(dir, ": cannot list: ", error.message()));
  std::sort(files.begin(), files.end());
  nlohmann::json material = nlohmann::json::array();
  int64_t read = 0;
  for (const fs::path& file : files) {
    const auto size = static_cast<int64_t>(fs::file_size(file, error));
    if (error) return absl::InternalError(absl::StrCat(file.string(), ": ", error.message()));
    nlohmann::json entry = {{"name", fs::relative(file, dir).generic_string()}, {"size", size}};
    if (read + size <= content_limit) {
      read += size;
      std::ifstream in(file, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in && !in.eof()) return absl::InternalError(absl::StrCat(file.string(), ": cannot read"));
      entry["content"] = HashHex(bytes);
    } else {
      entry["mtime"] = static_cast<int64_t>(
          fs::last_write_time(file, error).time_since_epoch().count());
      if (error) return absl::InternalError(absl::StrCat(file.string(), ": ", error.message()));
    }
    material.push_back(std::move(entry));
  }
  return HashHex(material.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string ArtifactCache::DefaultRoot() {
  if (const char* c = std::getenv("LIBRA_CACHE"); c && *c) return c;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    const passwd* pw = getpwuid(getuid());
    home = pw != nullptr ? pw->pw_dir : nullptr;
  }
  if (home == nullptr || *home == '\0') return ".libra-cache";
  return absl::StrCat(home, "/.cache/libra/artifacts");
}

std::string ArtifactCache::PathFor(const ArtifactKey& key) const {
  return absl::StrCat(root_, "/", key.kind, "/", key.Hash());
}

bool ArtifactCache::Contains(const ArtifactKey& key) const {
  absl::StatusOr<std::string> stored = ReadFile(absl::StrCat(PathFor(key), "/", kKeyFile));
  return stored.ok() && *stored == key.Material();
}

absl::StatusOr<std::string> ArtifactCache::GetOrBuild(const ArtifactKey& key, const Builder& build,
                                                      bool* hit) const {
  if (!ValidKind(key.kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact kind \"", key.kind, "\": expected letters, digits, _ - ."));
  }
  const std::string final_dir = PathFor(key);
  if (hit) *hit = false;
  if (Contains(key)) {
    if (hit) *hit = true;
    return final_dir;
  }
  std::error_code ec;
  const std::string parent = absl::StrCat(root_, "/", key.kind);
  fs::create_directories(parent, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cache folder ", parent, ": ", ec.message()));
  }
  static std::atomic<int> counter{0};
  const std::string tmp = absl::StrCat(parent, "/.tmp-", key.Hash(), "-", getpid(), "-", counter++);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("cache temp folder ", tmp, ": ", ec.message()));
  absl::Status built = build(tmp);
  if (built.ok()) built = WriteFileAtomically(absl::StrCat(tmp, "/", kKeyFile), key.Material());
  if (!built.ok()) {
    fs::remove_all(tmp, ec);
    return built;
  }
  // A folder at final_dir without a matching key.json is stale (an older
  // layout or a collision): it is replaced.
  if (fs::exists(final_dir) && !Contains(key)) fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    if (Contains(key)) return final_dir;  // a concurrent builder won
    return absl::InternalError(absl::StrCat("cache: cannot publish ", final_dir));
  }
  return final_dir;
}

absl::Status CopyArtifactFiles(const std::string& dir, const std::vector<std::string>& files,
                               const std::string& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return absl::InternalError(absl::StrCat(out, ": ", ec.message()));
  for (const std::string& file : files) {
    fs::copy_file(absl::StrCat(dir, "/", file), absl::StrCat(out, "/", file),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat(dir, "/", file, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace libra::papers
