// Papers run programs with the core's subprocess functions
// (src/core/subprocess.h), which the data-parallel launcher uses too.
#ifndef LIBRA_PAPERS_COMMON_SUBPROCESS_H_
#define LIBRA_PAPERS_COMMON_SUBPROCESS_H_

#include "src/core/subprocess.h"

namespace libra::papers {

using ::libra::CaptureProgram;
using ::libra::RunProgram;
using ::libra::RunProgramsTogether;

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_SUBPROCESS_H_
