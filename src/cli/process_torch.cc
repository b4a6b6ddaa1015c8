// `libra-nn`'s process settings: LibTorch's and OpenBLAS's threads too.
#include "src/cli/command.h"
#include "src/nn/runtime.h"

namespace libra::cli {

int ConfigureProcess(int threads) { return ConfigureRuntime(threads); }

}  // namespace libra::cli
