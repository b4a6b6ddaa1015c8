// Puts the planning-tokens paper's base model into a folder, so the claims
// test reads a build output (BUILD, :arithmetic_base) instead of pretraining
// inside the test. The base is the artifact cache's (CachedArithmeticBase),
// pretrained only when the cache lacks it (artifact_rule_main.h).
//
//   pretrain_arithmetic_base --out DIR [--cache_dir DIR]
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <string>

#include "papers/common/artifact_rule_main.h"
#include "papers/planning_tokens/arithmetic_base.h"
#include "src/nn/runtime.h"

namespace libra::papers {
namespace {

absl::StatusOr<std::string> ArithmeticBase(const ArtifactCache& cache, bool* hit) {
  ConfigureRuntime(kArithmeticBaseThreads);
  return CachedArithmeticBase(cache, ArithmeticBaseConfig(), hit);
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  return libra::papers::ArtifactRuleMain(
      argc, argv, "pretrain_arithmetic_base",
      {"base_key.json", "config.json", "model.safetensors", "pretrain.json"},
      &libra::papers::ArithmeticBase);
}
