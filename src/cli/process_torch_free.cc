// `libra`'s process settings: no LibTorch to configure.
#include "src/cli/command.h"
#include "src/core/memory_settings.h"

namespace libra::cli {

int ConfigureProcess(int threads) {
  KeepFreedMemoryMapped();
  return threads;
}

}  // namespace libra::cli
