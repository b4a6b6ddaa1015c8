// Native side of the wasm merging benchmark: writes the inputs (experts of
// [rows, cols], uniform in [-1, 1) from a fixed LCG, so wasm reads the very
// same bytes) and prints the native best time of linear and TIES merges.
//
//   merge_bench OUT_DIR [rows cols experts repeats]
// stdout: "native <method> <seconds> <GB/s>" per method; OUT_DIR/inputs.safetensors
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/core/io/safetensors.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/registry.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 6) return 2;
  const int64_t rows = argc == 6 ? std::atoll(argv[2]) : 2048, cols = argc == 6 ? std::atoll(argv[3]) : 2048;
  const int experts = argc == 6 ? std::atoi(argv[4]) : 3, repeats = argc == 6 ? std::atoi(argv[5]) : 5;
  uint32_t state = 12345;
  std::vector<libra::Tensor> inputs;
  libra::SafetensorsWriter writer;
  for (int e = 0; e < experts; ++e) {
    libra::Tensor t = libra::Tensor::Zeros({rows, cols});
    for (float& v : t.values()) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
    }
    (void)writer.Add(absl::StrCat("e", e), t);
    inputs.push_back(std::move(t));
  }
  if (!writer.WriteAtomically(std::string(argv[1]) + "/inputs.safetensors").ok()) return 1;
  struct Case {
    const char* method;
    libra::merge::MergeArguments args;
  };
  const std::vector<Case> cases = {{"linear", {}}, {"ties", {{{"density", 0.2}}, {}}}};
  const double bytes = static_cast<double>(experts + 1) * rows * cols * sizeof(float);
  for (const Case& c : cases) {
    auto method = libra::merge::FindMethod(c.method);
    auto params = libra::merge::BindParams(**method, c.args, experts);
    if (!params.ok()) return 1;
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      auto merged = libra::merge::Merge(**method, nullptr, inputs, *params);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!merged.ok()) return 1;
    }
    std::printf("native %s %.6f %.2f\n", c.method, best, bytes / best / 1e9);
  }
  return 0;
}
