#include "papers/common/subprocess.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra::papers {

namespace {

absl::StatusOr<int> Spawn(const std::vector<std::string>& argv, int stdout_fd) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProgram: empty argv");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork for ", argv[0], ": ", std::strerror(errno)));
  }
  if (pid == 0) {
    if (stdout_fd >= 0) {
      dup2(stdout_fd, 1);
      int null_fd = open("/dev/null", O_WRONLY);
      if (null_fd >= 0) dup2(null_fd, 2);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid for ", argv[0], ": ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 127) {
      return absl::NotFoundError(absl::StrCat("cannot run ", argv[0]));
    }
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}

}  // namespace

absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv) { return Spawn(argv, -1); }

absl::StatusOr<std::string> CaptureProgram(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  // Read after the child exits: outputs here are a line or two, far below
  // the pipe buffer.
  absl::StatusOr<int> code = Spawn(argv, fds[1]);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " exited with status ", *code));
  }
  return out;
}

}  // namespace libra::papers
