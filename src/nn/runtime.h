// Process-wide compute settings every libra binary applies at start-up.
//
// Three traps each cost LibTorch on CPU up to 20x (README, "Speed"):
// OpenBLAS threads fighting torch's threads, glibc returning large blocks to
// the OS on every step, and torch's thread count left implicit.
//
//   int main(int argc, char** argv) { libra::ConfigureRuntime(/*threads=*/0); ... }
#ifndef LIBRA_NN_RUNTIME_H_
#define LIBRA_NN_RUNTIME_H_

namespace libra {

// Keeps OpenBLAS at one thread, raises glibc's mmap and trim thresholds, and
// sets torch's intra-op threads to `threads` (0: the number of cores).
// Returns the thread count in use.
int ConfigureRuntime(int threads);

}  // namespace libra

#endif  // LIBRA_NN_RUNTIME_H_
