// Crash-safe file writes: every file libra writes goes through here.
//
// Data goes to a temporary file in the destination's folder, is fsynced, and
// is renamed over the destination, whose folder is then fsynced. A reader
// sees the old file or the new one, never a partial one.
//
//   LIBRA_RETURN_IF_ERROR(WriteFileAtomically(dir + "/library.pb", bytes));
//
//   LIBRA_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(path));
//   LIBRA_RETURN_IF_ERROR(out.Write(chunk1));
//   LIBRA_RETURN_IF_ERROR(out.Write(chunk2));
//   LIBRA_RETURN_IF_ERROR(out.Commit());  // without Commit the temp is removed
#ifndef LIBRA_CORE_IO_ATOMIC_FILE_H_
#define LIBRA_CORE_IO_ATOMIC_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra {

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Hostile sizes are refused before anything is allocated: a file over
// `max_bytes` is an error naming the file and the limit.
absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes);

// Limits for what ReadFile reads whole: JSON and YAML configurations
// (config.json, adapter_config.json, merge.yaml, checkpoint indexes), and
// library manifests (a few hundred bytes per expert).
inline constexpr uint64_t kMaxConfigFileBytes = 16ull << 20;
inline constexpr uint64_t kMaxManifestBytes = 256ull << 20;

class AtomicFile {
 public:
  static absl::StatusOr<AtomicFile> Create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  ~AtomicFile();

  absl::Status Write(absl::string_view bytes);
  absl::Status Commit();
  const std::string& path() const { return path_; }

 private:
  AtomicFile(std::string path, std::string temp_path, int fd);
  void Abandon();
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

}  // namespace libra

#endif  // LIBRA_CORE_IO_ATOMIC_FILE_H_
