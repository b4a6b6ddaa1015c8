// Throughput of libra's SHA-256 (Sha256File) on a file, printed as MB/s.
// run.sh runs coreutils' sha256sum on the same file as the peer.
//
//   sha256_bench FILE
#include <chrono>
#include <cstdio>

#include "src/core/sha256.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: sha256_bench FILE\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> hex = libra::Sha256File(argv[1]);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!hex.ok()) {
    std::fprintf(stderr, "sha256_bench: %s\n", std::string(hex.status().message()).c_str());
    return 1;
  }
  std::printf("%s %.3f\n", hex->c_str(), seconds);
  return 0;
}
