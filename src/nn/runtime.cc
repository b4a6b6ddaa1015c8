#include "src/nn/runtime.h"

#include <dlfcn.h>
#include <malloc.h>

#include <thread>

#include <ATen/Parallel.h>

namespace libra {

int ConfigureRuntime(int threads) {
  // Blocks below the mmap threshold come from the heap and stay mapped.
  // Some glibc versions cap the threshold at 32 MiB; fall back to that.
  constexpr int kLargeThreshold = 1 << 30;
  if (mallopt(M_MMAP_THRESHOLD, kLargeThreshold) == 0) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
  }
  mallopt(M_TRIM_THRESHOLD, kLargeThreshold);
  // OpenBLAS is loaded by LibTorch; look it up rather than link it, so the
  // reference BLAS (which lacks the symbol) still works.
  using SetThreads = void (*)(int);
  if (auto set_threads = reinterpret_cast<SetThreads>(
          dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_threads(1);
  }
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  at::set_num_threads(threads);
  return threads;
}

}  // namespace libra
