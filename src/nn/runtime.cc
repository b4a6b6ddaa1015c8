#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/runtime.h"

#include <dlfcn.h>

#include <thread>

#include <ATen/Parallel.h>

#include "src/core/memory_settings.h"

namespace libra {

int ConfigureRuntime(int threads) {
  KeepFreedMemoryMapped();
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
