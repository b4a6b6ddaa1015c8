// Papers report progress with the core's Progress (src/core/progress.h),
// which the trainer's log uses too.
#ifndef LIBRA_PAPERS_COMMON_PROGRESS_H_
#define LIBRA_PAPERS_COMMON_PROGRESS_H_

#include "src/core/progress.h"

namespace libra::papers {

using Progress = ::libra::Progress;

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_PROGRESS_H_
