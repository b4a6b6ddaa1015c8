// Puts the planning-tokens paper's base model into a folder, so the claims
// test reads a build output (BUILD, :arithmetic_base) instead of pretraining
// inside the test. The base is the artifact cache's (CachedArithmeticBase),
// pretrained only when the cache lacks it.
//
//   pretrain_arithmetic_base --out DIR [--cache_dir DIR]
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "papers/common/artifact_cache.h"
#include "papers/planning_tokens/arithmetic_base.h"
#include "src/core/status_macros.h"
#include "src/nn/runtime.h"

ABSL_FLAG(std::string, out, "", "folder to write the base model into (created)");
ABSL_FLAG(std::string, cache_dir, "", "artifact cache (default: $LIBRA_CACHE, else ~/.cache/libra/artifacts)");

namespace libra::papers {
namespace {

absl::Status Run(const std::string& out, const std::string& cache_root) {
  ConfigureRuntime(kArithmeticBaseThreads);
  ArtifactCache cache(cache_root.empty() ? ArtifactCache::DefaultRoot() : cache_root);
  bool hit = false;
  LIBRA_ASSIGN_OR_RETURN(std::string base, CachedArithmeticBase(cache, ArithmeticBaseConfig(), &hit));
  std::fprintf(stderr, "pretrain_arithmetic_base: %s %s\n", hit ? "reused" : "pretrained",
               base.c_str());
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return absl::InternalError(absl::StrCat(out, ": ", ec.message()));
  for (const char* file : {"base_key.json", "config.json", "model.safetensors", "pretrain.json"}) {
    fs::copy_file(absl::StrCat(base, "/", file), absl::StrCat(out, "/", file),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat(base, "/", file, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "pretrain_arithmetic_base: --out DIR is required\n");
    return 2;
  }
  absl::Status status = libra::papers::Run(out, absl::GetFlag(FLAGS_cache_dir));
  if (!status.ok()) {
    std::fprintf(stderr, "pretrain_arithmetic_base: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
