#include "src/nn/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "src/core/subprocess.h"

namespace libra::nn {
namespace {

using Clock = std::chrono::steady_clock;

struct Worker {
  pid_t pid = -1;
  bool running = false;
  int wait_status = 0;
};

std::string DescribeExit(int rank, int wait_status) {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat("rank ", rank, " exited with status ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("rank ", rank, " was killed by signal ", WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  return absl::StrCat("rank ", rank, " ended with wait status ", wait_status);
}

bool Failed(int wait_status) { return !WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0; }

// Reaps whichever workers have ended; returns the index of the first one
// that failed, or -1.
int ReapEnded(std::vector<Worker>& workers) {
  int first_failed = -1;
  for (size_t rank = 0; rank < workers.size(); ++rank) {
    Worker& worker = workers[rank];
    if (!worker.running) continue;
    int wait_status = 0;
    const pid_t done = waitpid(worker.pid, &wait_status, WNOHANG);
    if (done == worker.pid || (done < 0 && errno == ECHILD)) {
      worker.running = false;
      worker.wait_status = done == worker.pid ? wait_status : 0;
      if (first_failed < 0 && Failed(worker.wait_status)) first_failed = static_cast<int>(rank);
    }
  }
  return first_failed;
}

bool AnyRunning(const std::vector<Worker>& workers) {
  for (const Worker& worker : workers) {
    if (worker.running) return true;
  }
  return false;
}

// SIGTERM, `grace` to exit, then SIGKILL; reaps every worker.
void StopAll(std::vector<Worker>& workers, std::chrono::milliseconds grace) {
  for (Worker& worker : workers) {
    if (worker.running) kill(worker.pid, SIGTERM);
  }
  const Clock::time_point kill_at = Clock::now() + grace;
  while (AnyRunning(workers) && Clock::now() < kill_at) {
    ReapEnded(workers);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (Worker& worker : workers) {
    if (!worker.running) continue;
    kill(worker.pid, SIGKILL);
    waitpid(worker.pid, &worker.wait_status, 0);
    worker.running = false;
  }
}

// The running binary's path, resolved now so that workers exec the same file.
absl::StatusOr<std::string> SelfExecutable() {
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) {
    return absl::InternalError(absl::StrCat("launcher: /proc/self/exe: ", std::strerror(errno)));
  }
  return std::string(path, static_cast<size_t>(length));
}

}  // namespace

absl::StatusOr<int> FindFreePort(const std::string& address) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("master address \"", address, "\" is not an IPv4 address"));
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  socklen_t length = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("no free port on ", address, ": ", error));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

bool IsLaunchedWorker() { return std::getenv("WORLD_SIZE") != nullptr; }

absl::Status LaunchWorkers(const std::string& program, const std::vector<std::string>& argv,
                           int nproc, const LaunchOptions& options) {
  if (nproc < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--nproc must be at least 1, got ", nproc));
  }
  if (argv.empty()) return absl::InvalidArgumentError("launcher: empty argv");
  int port = options.master_port;
  if (port == 0) {
    absl::StatusOr<int> free_port = FindFreePort(options.master_addr);
    if (!free_port.ok()) return free_port.status();
    port = *free_port;
  }
  std::vector<Worker> workers(nproc);
  for (int rank = 0; rank < nproc; ++rank) {
    std::vector<std::pair<std::string, std::string>> settings = options.env;
    settings.insert(settings.end(), {{"RANK", absl::StrCat(rank)},
                                     {"LOCAL_RANK", absl::StrCat(rank)},
                                     {"WORLD_SIZE", absl::StrCat(nproc)},
                                     {"LOCAL_WORLD_SIZE", absl::StrCat(nproc)},
                                     {"MASTER_ADDR", options.master_addr},
                                     {"MASTER_PORT", absl::StrCat(port)}});
    StartOptions start;
    start.program = program;
    start.env = std::move(settings);
    const absl::StatusOr<pid_t> pid = StartProgram(argv, start);
    if (!pid.ok()) {
      StopAll(workers, options.grace);
      return absl::InternalError(absl::StrCat("launcher: cannot start rank ", rank, " (",
                                              program, "): ", pid.status().message()));
    }
    workers[rank] = Worker{*pid, true, 0};
  }

  const Clock::time_point deadline = Clock::now() + options.timeout;
  while (AnyRunning(workers)) {
    const int failed = ReapEnded(workers);
    if (failed >= 0) {
      const std::string what = DescribeExit(failed, workers[failed].wait_status);
      StopAll(workers, options.grace);
      return absl::AbortedError(absl::StrCat("launcher: ", what, "; stopped the other ranks"));
    }
    if (options.timeout.count() > 0 && Clock::now() >= deadline) {
      StopAll(workers, options.grace);
      return absl::DeadlineExceededError(absl::StrCat(
          "launcher: workers still running after ", options.timeout.count(), " ms; stopped them"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::OkStatus();
}

absl::Status LaunchWorkers(int argc, char** argv, int nproc, const LaunchOptions& options) {
  absl::StatusOr<std::string> self = SelfExecutable();
  if (!self.ok()) return self.status();
  return LaunchWorkers(*self, std::vector<std::string>(argv, argv + argc), nproc, options);
}

absl::Status RelaunchSelf(int nproc, const LaunchOptions& options) {
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(cmdline)),
                          std::istreambuf_iterator<char>());
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < bytes.size()) {
    const size_t end = bytes.find('\0', start);
    argv.push_back(bytes.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (argv.empty()) return absl::InternalError("launcher: cannot read /proc/self/cmdline");
  absl::StatusOr<std::string> self = SelfExecutable();
  if (!self.ok()) return self.status();
  return LaunchWorkers(*self, argv, nproc, options);
}

}  // namespace libra::nn
