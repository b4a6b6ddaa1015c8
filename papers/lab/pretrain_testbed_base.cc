// Puts the testbed's base model into a folder, so a Bazel rule can provide it
// to every paper's claims test (papers/lab/BUILD, :testbed_base). The base is
// the artifact cache's (CachedSyntheticBase: keyed by BaseDefinition), so the
// build output, `./run` and every paper share one pretraining per machine:
// it is pretrained here only when the cache does not hold it yet. The
// configuration is LabConfig's, with $LIBRA_LAB_CONFIG applied, exactly as
// the paper binaries read it.
//
//   pretrain_testbed_base --out DIR [--cache_dir DIR]
//
// The cache is --cache_dir, else $LIBRA_CACHE, else ~/.cache/libra/artifacts
// of the user running it (a Bazel action has no $HOME).
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "papers/common/artifact_cache.h"
#include "papers/common/reproduce.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/status_macros.h"
#include "src/nn/runtime.h"

ABSL_FLAG(std::string, out, "", "folder to write the base model into (created)");
ABSL_FLAG(std::string, cache_dir, "", "artifact cache (default: $LIBRA_CACHE, else ~/.cache/libra/artifacts)");

namespace libra::papers {
namespace {

std::string CacheRoot(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* c = std::getenv("LIBRA_CACHE"); c && *c) return c;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    const passwd* pw = getpwuid(getuid());
    home = pw != nullptr ? pw->pw_dir : nullptr;
  }
  if (home == nullptr || *home == '\0') return ".libra-cache";
  return absl::StrCat(home, "/.cache/libra/artifacts");
}

absl::Status Run(const std::string& out, const std::string& cache_root) {
  ConfigureRuntime(kBasePretrainThreads);
  RunContext ctx;
  ctx.options.scale = "quick";
  LIBRA_ASSIGN_OR_RETURN(LabConfig config, LabConfigFromContext(ctx));
  ArtifactCache cache(cache_root);
  bool hit = false;
  LIBRA_ASSIGN_OR_RETURN(std::string base, CachedSyntheticBase(cache, config, &hit));
  std::fprintf(stderr, "pretrain_testbed_base: %s %s\n", hit ? "reused" : "pretrained", base.c_str());
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
    std::fprintf(stderr, "pretrain_testbed_base: --out DIR is required\n");
    return 2;
  }
  try {
    absl::Status status =
        libra::papers::Run(out, libra::papers::CacheRoot(absl::GetFlag(FLAGS_cache_dir)));
    if (!status.ok()) {
      std::fprintf(stderr, "pretrain_testbed_base: error: %s\n", std::string(status.message()).c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pretrain_testbed_base: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
