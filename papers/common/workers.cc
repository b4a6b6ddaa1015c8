#include "papers/common/workers.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "papers/common/progress.h"
#include "papers/common/subprocess.h"
#include "src/core/status_macros.h"

namespace libra::papers {
namespace {

constexpr char kWorkerRoundVariable[] = "LIBRA_WORKER_ROUND";

absl::Status BuildShare(const RunContext& ctx, const std::vector<ArtifactJob>& jobs,
                        const std::string& label) {
  const int k = ctx.options.worker_index, n = ctx.options.worker_count;
  int share = 0;
  for (size_t j = k; j < jobs.size(); j += n) ++share;
  // One progress line for all: the workers' shares differ by one job at most.
  std::optional<Progress> progress;
  if (k == 0) progress.emplace(absl::StrCat(label, " (", n, " workers)"), share);
  for (size_t j = k; j < jobs.size(); j += n) {
    LIBRA_RETURN_IF_ERROR(jobs[j].build());
    if (progress) progress->Advance(absl::StrCat("artifact ", j + 1, " of ", jobs.size()));
  }
  return WorkerDoneStatus();
}

}  // namespace

absl::Status BuildInWorkers(const RunContext& ctx, const std::vector<ArtifactJob>& jobs,
                            const std::string& label, WorkerRun* run) {
  if (ctx.worker()) {
    // Not the round this worker was started for: an earlier one, whose
    // artifacts its parent has already cached.
    const char* round = std::getenv(kWorkerRoundVariable);
    if (round != nullptr && label != round) return absl::OkStatus();
    return BuildShare(ctx, jobs, label);
  }
  int missing = 0;
  for (const ArtifactJob& job : jobs) missing += !job.cached();
  if (missing < 2 || ctx.threads < 2) return absl::OkStatus();
  const int workers = std::min(ctx.threads, missing);
  std::error_code error;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", error).string();
  if (error) return absl::InternalError(absl::StrCat("/proc/self/exe: ", error.message()));
  std::fprintf(stderr, "%s: building %d of %zu artifacts in %d worker processes\n", label.c_str(),
               missing, jobs.size(), workers);
  std::vector<std::vector<std::string>> argvs;
  for (int k = 0; k < workers; ++k) {
    ReproduceOptions options = ctx.options;
    options.threads = 1;
    options.worker_index = k;
    options.worker_count = workers;
    options.plots = false;
    std::vector<std::string> argv = {self};
    for (std::string& a : ReproduceArgs(options)) argv.push_back(std::move(a));
    argvs.push_back(std::move(argv));
  }
  const auto start = std::chrono::steady_clock::now();
  // The workers inherit the round's label, so each builds in this call and
  // passes the earlier ones, however fast its siblings are.
  setenv(kWorkerRoundVariable, label.c_str(), /*overwrite=*/1);
  absl::StatusOr<std::vector<int>> ran = RunProgramsTogether(argvs);
  unsetenv(kWorkerRoundVariable);
  LIBRA_ASSIGN_OR_RETURN(std::vector<int> codes, std::move(ran));
  if (run != nullptr) {
    run->workers = workers;
    run->built = missing;
    run->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  for (int k = 0; k < workers; ++k) {
    if (codes[k] != 0) {
      return absl::InternalError(absl::StrCat(label, ": worker ", k + 1, "/", workers,
                                              " exited with status ", codes[k],
                                              " (its error is printed above)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace libra::papers
