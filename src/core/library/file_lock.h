// An exclusive inter-process lock on a file (flock), held for the lifetime
// of the object. Guards the library manifest's read-modify-write so that
// concurrent `libra library add` processes all land.
//
// Where flock is unsupported (some network filesystems) it falls back to an
// O_EXCL "<path>.held" file polled until free; under Emscripten (one
// single-threaded process) it is a no-op.
//
//   LIBRA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(dir + "/.lock"));
//   ... read, modify, write the manifest ...
//   // released when `lock` goes out of scope
#ifndef LIBRA_CORE_LIBRARY_FILE_LOCK_H_
#define LIBRA_CORE_LIBRARY_FILE_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace libra {

class FileLock {
 public:
  // Blocks until the lock is held; the fallback gives up after
  // `timeout_seconds` with an error naming the lock file.
  static absl::StatusOr<FileLock> Acquire(const std::string& path, int timeout_seconds = 120);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  ~FileLock();

 private:
  FileLock() = default;
  void Release();
  int fd_ = -1;
  std::string held_path_;  // fallback marker file, removed on release
};

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_FILE_LOCK_H_
