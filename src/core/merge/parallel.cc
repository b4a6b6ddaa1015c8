#include "src/core/merge/parallel.h"

#include <algorithm>
#include <atomic>
#include <vector>

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define LIBRA_MERGE_HAVE_THREADS 1
#include <thread>
#endif

namespace libra::merge {

bool ThreadsAvailable() {
#ifdef LIBRA_MERGE_HAVE_THREADS
  return true;
#else
  return false;
#endif
}

void ParallelFor(int64_t num_tasks, int threads, absl::FunctionRef<void(int64_t)> task) {
  if (num_tasks <= 0) return;
  const int64_t workers = std::min<int64_t>(std::max(threads, 1), num_tasks);
#ifdef LIBRA_MERGE_HAVE_THREADS
  if (workers > 1) {
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t i = next.fetch_add(1); i < num_tasks; i = next.fetch_add(1)) task(i);
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (int64_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (std::thread& thread : pool) thread.join();
    return;
  }
#endif
  for (int64_t i = 0; i < num_tasks; ++i) task(i);
}

}  // namespace libra::merge
