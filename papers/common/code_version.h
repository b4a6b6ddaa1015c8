// The code version a result was made with: $LIBRA_CODE_VERSION when set
// (a stamped release), else `git describe --always --dirty --tags` of the
// workspace (BUILD_WORKSPACE_DIRECTORY under `bazel run`, else the current
// folder), else "unknown".
//
//   results.SetRun({.code_version = CodeVersion()});
#ifndef LIBRA_PAPERS_COMMON_CODE_VERSION_H_
#define LIBRA_PAPERS_COMMON_CODE_VERSION_H_

#include <string>

namespace libra::papers {

std::string CodeVersion();

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_CODE_VERSION_H_
