// ParallelFor: the core's only threading primitive, optional by design.
//
// `threads` <= 1 runs every task inline on the caller's thread, and builds
// without threads (Emscripten without -pthread) always do, so the core stays
// single-threaded in WebAssembly. Tasks are handed out dynamically, which
// keeps both cores busy on a noisy machine; callers make each task's result
// independent of which thread ran it, so output never depends on `threads`.
//
//   ParallelFor(num_row_blocks, params.threads, [&](int64_t block) {
//     MergeRowBlock(block);
//   });
#ifndef LIBRA_CORE_MERGE_PARALLEL_H_
#define LIBRA_CORE_MERGE_PARALLEL_H_

#include <cstdint>

#include "absl/functional/function_ref.h"

namespace libra::merge {

// Calls task(i) once for every i in [0, num_tasks), on up to `threads`
// threads (the caller included). Returns when all calls have returned.
void ParallelFor(int64_t num_tasks, int threads, absl::FunctionRef<void(int64_t)> task);

// Whether this build can run more than one thread.
bool ThreadsAvailable();

}  // namespace libra::merge

#endif  // LIBRA_CORE_MERGE_PARALLEL_H_
