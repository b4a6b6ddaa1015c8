#include "src/core/library/file_lock.h"

#include <fcntl.h>
#include <unistd.h>
#ifndef __EMSCRIPTEN__
#include <sys/file.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno), " (", path, ")"));
}

}  // namespace

absl::StatusOr<FileLock> FileLock::Acquire(const std::string& path, int timeout_seconds) {
  FileLock lock;
#ifdef __EMSCRIPTEN__
  (void)path;
  (void)timeout_seconds;
  return lock;
#else
  lock.fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) return ErrnoError("cannot open lock file", path);
  while (flock(lock.fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    if (errno != ENOLCK && errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) {
      return ErrnoError("cannot lock", path);
    }
    // No flock here: an exclusively created marker file is the lock.
    const std::string held = path + ".held";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    for (;;) {
      const int fd = open(held.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0) {
        const std::string pid = std::to_string(getpid()) + "\n";
        (void)!write(fd, pid.data(), pid.size());
        close(fd);
        lock.held_path_ = held;
        return lock;
      }
      if (errno != EEXIST) return ErrnoError("cannot create lock marker", held);
      if (std::chrono::steady_clock::now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "library is locked by another process; remove the file if none is running (", held, ")"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return lock;
#endif
}

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), held_path_(std::move(other.held_path_)) {
  other.held_path_.clear();
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
    held_path_ = std::move(other.held_path_);
    other.held_path_.clear();
  }
  return *this;
}

FileLock::~FileLock() { Release(); }

void FileLock::Release() {
  if (!held_path_.empty()) {
    unlink(held_path_.c_str());
    held_path_.clear();
  }
  if (fd_ >= 0) {
    close(fd_);  // closing the descriptor drops the flock
    fd_ = -1;
  }
}

}  // namespace libra
