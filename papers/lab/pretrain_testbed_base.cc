// Puts the testbed's base model into a folder, so a Bazel rule can provide it
// to every paper's claims test (papers/lab/BUILD, :testbed_base). The base is
// the artifact cache's (CachedSyntheticBase: keyed by BaseDefinition),
// pretrained only when the cache lacks it (artifact_rule_main.h). The
// configuration is LabConfig's, with $LIBRA_LAB_CONFIG applied, exactly as
// the paper binaries read it.
//
//   pretrain_testbed_base --out DIR [--cache_dir DIR]
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <string>

#include "papers/common/artifact_rule_main.h"
#include "papers/common/reproduce.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/status_macros.h"
#include "src/nn/runtime.h"

namespace libra::papers {
namespace {

absl::StatusOr<std::string> TestbedBase(const ArtifactCache& cache, bool* hit) {
  ConfigureRuntime(kBasePretrainThreads);
  RunContext ctx;
  ctx.options.scale = "quick";
  LIBRA_ASSIGN_OR_RETURN(LabConfig config, LabConfigFromContext(ctx));
  return CachedSyntheticBase(cache, config, hit);
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  return libra::papers::ArtifactRuleMain(
      argc, argv, "pretrain_testbed_base",
      {"base_key.json", "config.json", "model.safetensors", "pretrain.json"},
      &libra::papers::TestbedBase);
}
