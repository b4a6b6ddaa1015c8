// Pretrains the testbed's base model into a folder, so a Bazel rule can build
// it once and every paper's claims test can share it (papers/common/BUILD,
// :testbed_base). The configuration is LabConfig's, with $LIBRA_LAB_CONFIG
// applied, exactly as the paper binaries read it.
//
//   pretrain_testbed_base --out DIR [--threads 2]
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "papers/common/reproduce.h"
#include "papers/lab/testbed_lab.h"
#include "src/core/status_macros.h"
#include "src/data/synthetic/suite.h"
#include "src/nn/runtime.h"

ABSL_FLAG(std::string, out, "", "folder to write the base model into (created)");
ABSL_FLAG(int, threads, 2, "CPU threads (fixed, so the build is deterministic)");

namespace libra::papers {
namespace {

absl::Status Run(const std::string& out, int threads) {
  ConfigureRuntime(threads);
  RunContext ctx;
  ctx.options.scale = "quick";
  LIBRA_ASSIGN_OR_RETURN(LabConfig config, LabConfigFromContext(ctx));
  const std::string suite_dir = out + ".suite";
  LIBRA_RETURN_IF_ERROR(data::synthetic::WriteSuite(suite_dir, LabSuiteOptions(config)));
  std::filesystem::create_directories(out);
  absl::Status status = PretrainBase(config, suite_dir + "/pretrain.jsonl", out);
  std::error_code ignored;
  std::filesystem::remove_all(suite_dir, ignored);
  return status;
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
  absl::Status status = libra::papers::Run(out, absl::GetFlag(FLAGS_threads));
  if (!status.ok()) {
    std::fprintf(stderr, "pretrain_testbed_base: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
