#include "src/core/subprocess.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace libra {

namespace {

// The inherited environment without the variables `settings` replaces, then them.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& settings) {
  std::set<std::string> replaced;
  for (const auto& [name, value] : settings) replaced.insert(name);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const char* equals = std::strchr(*entry, '=');
    const std::string name = equals ? std::string(*entry, static_cast<size_t>(equals - *entry))
                                    : std::string(*entry);
    if (!replaced.count(name)) env.emplace_back(*entry);
  }
  for (const auto& [name, value] : settings) env.push_back(absl::StrCat(name, "=", value));
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

absl::StatusOr<int> Spawn(const std::vector<std::string>& argv, int stdout_fd) {
  StartOptions options;
  options.stdout_fd = stdout_fd;
  absl::StatusOr<pid_t> pid = StartProgram(argv, options);
  if (!pid.ok()) return pid.status();
  return WaitProgram(*pid, argv[0]);
}

}  // namespace

absl::StatusOr<pid_t> StartProgram(const std::vector<std::string>& argv,
                                   const StartOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("StartProgram: empty argv");
  std::vector<std::string> args = argv;
  std::vector<char*> c_args = CStrings(args);
  std::vector<std::string> env;
  std::vector<char*> c_env;
  if (!options.env.empty()) {
    env = ChildEnvironment(options.env);
    c_env = CStrings(env);
  }
  char** child_env = options.env.empty() ? environ : c_env.data();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, options.stdout_fd, 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  // posix_spawn reports a failed exec here (not as exit code 127 later).
  const int error =
      options.program.empty()
          ? posix_spawnp(&pid, args[0].c_str(), &actions, nullptr, c_args.data(), child_env)
          : posix_spawn(&pid, options.program.c_str(), &actions, nullptr, c_args.data(), child_env);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    const std::string& program = options.program.empty() ? argv[0] : options.program;
    return absl::NotFoundError(absl::StrCat("cannot run ", program, ": ", std::strerror(error)));
  }
  return pid;
}

absl::StatusOr<int> WaitProgram(pid_t pid, const std::string& program) {
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

absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv) { return Spawn(argv, -1); }

absl::StatusOr<std::vector<int>> RunProgramsTogether(
    const std::vector<std::vector<std::string>>& argvs) {
  std::vector<pid_t> pids;
  absl::Status started;
  for (const std::vector<std::string>& argv : argvs) {
    absl::StatusOr<pid_t> pid = StartProgram(argv);
    if (!pid.ok()) {
      started = pid.status();
      break;
    }
    pids.push_back(*pid);
  }
  // Every started program is waited for, even after a failed start: no zombies.
  std::vector<int> codes;
  for (size_t i = 0; i < pids.size(); ++i) {
    absl::StatusOr<int> code = WaitProgram(pids[i], argvs[i][0]);
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

}  // namespace libra
