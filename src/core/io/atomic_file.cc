#include "src/core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno), " (", path, ")"));
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// fsync on the folder makes the rename itself durable. Some file systems
// (and Emscripten's MEMFS) refuse to open folders; that is not an error.
void SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string temp_path, int fd)
    : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    Abandon();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

AtomicFile::~AtomicFile() { Abandon(); }

void AtomicFile::Abandon() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(temp_path_.c_str());
    fd_ = -1;
  }
}

absl::StatusOr<AtomicFile> AtomicFile::Create(const std::string& path) {
  // A random suffix keeps concurrent writers of the same path apart; the
  // leading dot keeps temporaries out of folder listings.
  const std::string dir = ParentDir(path);
  const std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  std::random_device entropy;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string temp_path =
        absl::StrCat(dir, "/.", base, ".tmp-", getpid(), "-", entropy() % 1000000000u);
    const int fd = open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return AtomicFile(path, temp_path, fd);
    if (errno != EEXIST) return ErrnoError("cannot create temporary file", temp_path);
  }
  return absl::InternalError(absl::StrCat("cannot create a unique temporary file (", path, ")"));
}

absl::Status AtomicFile::Write(absl::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("file already closed (", path_, ")"));
  while (!bytes.empty()) {
    const ssize_t written = write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write failed", temp_path_);
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("file already closed (", path_, ")"));
  if (fsync(fd_) != 0 && errno != EINVAL && errno != ENOSYS) {
    const absl::Status status = ErrnoError("fsync failed", temp_path_);
    Abandon();
    return status;
  }
  close(fd_);
  fd_ = -1;
  if (rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const absl::Status status = ErrnoError("cannot rename temporary file into place", path_);
    unlink(temp_path_.c_str());
    return status;
  }
  SyncDir(ParentDir(path_));
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  absl::StatusOr<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  absl::Status status = file->Write(contents);
  if (!status.ok()) return status;
  return file->Commit();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  struct stat info;
  if (stat(path.c_str(), &info) == 0 && static_cast<uint64_t>(info.st_size) > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("file is ", info.st_size, " bytes, over the ", max_bytes,
                                                   "-byte limit for this kind of file (", path, ")"));
  }
  LIBRA_ASSIGN_OR_RETURN(std::string contents, ReadFile(path));
  // The file may have grown between stat and read.
  if (contents.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("file is over the ", max_bytes,
                                                   "-byte limit for this kind of file (", path, ")"));
  }
  return contents;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open: ", std::strerror(errno), " (", path, ")"));
  std::string contents;
  char buffer[1 << 16];
  while (true) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) continue;
      const absl::Status status = ErrnoError("read failed", path);
      close(fd);
      return status;
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return contents;
}

}  // namespace libra
