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

absl::StatusOr<pid_t> Start(const std::vector<std::string>& argv, int stdout_fd) {
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
  return pid;
}

absl::StatusOr<int> Wait(pid_t pid, const std::string& program) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid for ", program, ": ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 127) {
      return absl::NotFoundError(absl::StrCat("cannot run ", program));
    }
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}

absl::StatusOr<int> Spawn(const std::vector<std::string>& argv, int stdout_fd) {
  absl::StatusOr<pid_t> pid = Start(argv, stdout_fd);
  if (!pid.ok()) return pid.status();
  return Wait(*pid, argv[0]);
}

}  // namespace

absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv) { return Spawn(argv, -1); }

absl::StatusOr<std::vector<int>> RunProgramsTogether(
    const std::vector<std::vector<std::string>>& argvs) {
  std::vector<pid_t> pids;
  absl::Status started;
  for (const std::vector<std::string>& argv : argvs) {
    absl::StatusOr<pid_t> pid = Start(argv, -1);
    if (!pid.ok()) {
      started = pid.status();
      break;
    }
    pids.push_back(*pid);
  }
  // Every started program is waited for, even after a failed start: no zombies.
  std::vector<int> codes;
  for (size_t i = 0; i < pids.size(); ++i) {
    absl::StatusOr<int> code = Wait(pids[i], argvs[i][0]);
    if (!code.ok()) return code.status();
    codes.push_back(*code);
  }
  if (!started.ok()) return started;
  return codes;
}

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
