#include "src/core/memory_settings.h"

#include <malloc.h>

namespace libra {

void KeepFreedMemoryMapped() {
  // Blocks below the mmap threshold come from the heap and stay mapped.
  constexpr int kLargeThreshold = 1 << 30;
  if (mallopt(M_MMAP_THRESHOLD, kLargeThreshold) == 0) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
  }
  mallopt(M_TRIM_THRESHOLD, kLargeThreshold);
}

}  // namespace libra
