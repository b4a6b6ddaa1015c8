// Building a paper's expensive artifacts (trained experts) in worker
// processes: copies of the paper's own binary, one per thread of --threads.
// On CI's 2 cores, one single-threaded process per core trains about twice
// as many small experts per second as one process with two intra-op threads
// (OpenMP threads spin on matrices this small). An artifact is a pure
// function of its inputs (training reseeds), so which process builds it
// changes no bit of it.
//
// The worker mode lives here and in the driver, not in a paper: a paper
// lists its jobs and calls
//
//   LIBRA_RETURN_IF_ERROR(BuildInWorkers(ctx, jobs, "private libraries"));
//   ... the paper's stages: every job's artifact is now in the cache
//
// In the parent, when at least 2 jobs are missing and ctx.threads >= 2,
// this runs min(threads, missing) copies of the binary with
// "--worker K/N --threads 1" and waits; otherwise it does nothing (the paper
// builds as it goes). In worker K of N it builds jobs K, K + N, ... and
// returns WorkerDoneStatus() (reproduce.h), which the paper passes up like
// any error and the driver turns into a clean exit. A paper may build in
// rounds (a round's jobs depending on earlier rounds' artifacts) if each call
// has its own label: a worker is started for one label ($LIBRA_WORKER_ROUND)
// and passes calls with other labels, so it recomputes the earlier rounds'
// choices from the cache. A failed worker is an error naming it.
#ifndef LIBRA_PAPERS_COMMON_WORKERS_H_
#define LIBRA_PAPERS_COMMON_WORKERS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "papers/common/reproduce.h"

namespace libra::papers {

// One artifact a paper needs: `build` puts it into the cache unless
// `cached` finds it there.
struct ArtifactJob {
  std::function<bool()> cached;
  std::function<absl::Status()> build;
};

struct WorkerRun {
  int workers = 0;  // 0: no worker was started
  int built = 0;    // artifacts the workers built
  double seconds = 0;
};

absl::Status BuildInWorkers(const RunContext& ctx, const std::vector<ArtifactJob>& jobs,
                            const std::string& label, WorkerRun* run = nullptr);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_WORKERS_H_
