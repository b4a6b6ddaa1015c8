// A torch-free paper for workers_test.cc: two rounds of artifact jobs, each
// job writing a file named after it holding the pid of the process that
// built it, into --cache_dir. Round 2's jobs exist only once round 1's files
// do (as a paper's later round depends on earlier artifacts). With
// $WORKERS_FIXTURE_FAIL set, job 3 fails.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "papers/common/reproduce.h"
#include "papers/common/workers.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::papers {
namespace {

constexpr int kJobsPerRound = 5;

std::vector<ArtifactJob> Round(const std::string& dir, int round) {
  std::vector<ArtifactJob> jobs;
  for (int j = 0; j < kJobsPerRound; ++j) {
    const std::string file = absl::StrCat(dir, "/round", round, "_job", j);
    jobs.push_back({[file] { return std::filesystem::exists(file); },
                    [file, j, round]() -> absl::Status {
                      if (round == 1 && j == 3 && std::getenv("WORKERS_FIXTURE_FAIL") != nullptr) {
                        return absl::InternalError("job 3 failed on purpose");
                      }
                      return WriteFileAtomically(file, absl::StrCat(getpid()));
                    }});
  }
  return jobs;
}

// What a paper's stage does after BuildInWorkers: takes each artifact from
// the cache, building it in this process when no worker did.
absl::StatusOr<int> Use(const std::vector<ArtifactJob>& jobs) {
  int built = 0;
  for (const ArtifactJob& job : jobs) {
    if (job.cached()) continue;
    LIBRA_RETURN_IF_ERROR(job.build());
    ++built;
  }
  return built;
}

absl::Status Run(const RunContext& ctx, Results& results) {
  const std::string dir = ctx.options.cache_dir;
  std::filesystem::create_directories(dir);
  WorkerRun first, second;
  LIBRA_RETURN_IF_ERROR(BuildInWorkers(ctx, Round(dir, 1), "round 1", &first));
  LIBRA_ASSIGN_OR_RETURN(int parent_built, Use(Round(dir, 1)));
  // Round 2 depends on round 1's artifacts, all present here.
  LIBRA_RETURN_IF_ERROR(BuildInWorkers(ctx, Round(dir, 2), "round 2", &second));
  LIBRA_ASSIGN_OR_RETURN(int more, Use(Round(dir, 2)));
  results.AddValue("built_in_parent", 1, parent_built + more);
  results.AddValue("workers/round1", 1, first.workers);
  results.AddValue("built/round1", 1, first.built);
  results.AddValue("workers/round2", 1, second.workers);
  results.AddValue("built/round2", 1, second.built);
  results.AddValue("parent_pid", 1, getpid());
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(argc, argv, {"workers_fixture", "Workers fixture", &libra::papers::Run});
}
