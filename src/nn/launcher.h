// Starts one process per data-parallel rank, like torchrun on one machine.
//
// Each worker is the same program with the same arguments; its environment
// carries RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT, which DistributedContext::FromEnvironment() reads
// (src/nn/distributed.h). The launcher waits for every worker; when one
// fails it stops the others (SIGTERM, then SIGKILL) instead of leaving them
// blocked in a collective, and reports which rank failed and how.
//
// `libra train --nproc N` re-runs itself N times:
//
//   if (nproc > 1 && !libra::nn::IsLaunchedWorker()) {
//     return ReportError(libra::nn::RelaunchSelf(nproc));  // exit 1 on failure
//   }
//
// A worker never launches again: IsLaunchedWorker() is true once WORLD_SIZE
// is set, whether by this launcher or by torchrun/SLURM scripts.
#ifndef LIBRA_NN_LAUNCHER_H_
#define LIBRA_NN_LAUNCHER_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace libra::nn {

struct LaunchOptions {
  // Address rank 0's store listens on. Loopback keeps a one-machine run off
  // the network.
  std::string master_addr = "127.0.0.1";
  // 0: ask the kernel for a free port on master_addr.
  int master_port = 0;
  // Whole-run limit; zero means none. Past it every worker is stopped and
  // the launch fails with DeadlineExceeded.
  std::chrono::milliseconds timeout{0};
  // How long stopped workers get between SIGTERM and SIGKILL.
  std::chrono::milliseconds grace{3000};
  // Extra variables for every worker (they override inherited ones).
  std::vector<std::pair<std::string, std::string>> env;
};

// Runs `program` (a path, not searched in PATH) with `argv` (argv[0]
// included) as `nproc` workers and waits for all of them. OK when every
// worker exits 0.
absl::Status LaunchWorkers(const std::string& program, const std::vector<std::string>& argv,
                           int nproc, const LaunchOptions& options = {});

// Re-executes the running binary (/proc/self/exe) with `argv`.
absl::Status LaunchWorkers(int argc, char** argv, int nproc, const LaunchOptions& options = {});

// Re-executes the running binary with the arguments it was started with
// (/proc/self/cmdline), for code that no longer holds main's argv.
absl::Status RelaunchSelf(int nproc, const LaunchOptions& options = {});

// True in a process started by a launcher (WORLD_SIZE is set).
bool IsLaunchedWorker();

// A TCP port that was free on `address` a moment ago.
absl::StatusOr<int> FindFreePort(const std::string& address = "127.0.0.1");

}  // namespace libra::nn

#endif  // LIBRA_NN_LAUNCHER_H_
