// Writes the synthetic instruction suite and its pretraining corpus:
//
//   bazel run //src/data:make_suite -- --out=/tmp/suite --seed=1
//
// Output layout and contents: src/data/README.md.
#include <cstdint>
#include <cstdio>
#include <string>

#include "src/core/exception_barrier.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "src/data/synthetic/suite.h"

ABSL_FLAG(std::string, out, "", "folder to write the suite into (created if missing)");
ABSL_FLAG(uint64_t, seed, 0, "seed: the suite is a function of it");
ABSL_FLAG(int, train, 1000, "training examples per task");
ABSL_FLAG(int, validation, 64, "validation examples per task");
ABSL_FLAG(int, test, 128, "test examples per task");
ABSL_FLAG(int, pretrain, 50000, "pretraining corpus examples");
ABSL_FLAG(double, pretrain_compositions, 0.3, "share of pretraining lines chaining two operations");
ABSL_FLAG(double, pretrain_framed, 0.5,
          "share of pretraining lines laid out like instructions (with filler words)");

namespace {

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("make_suite --out DIR [--seed N] [--train N] ...");
  const auto positional = absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty() || positional.size() > 1) {
    std::fprintf(stderr, "make_suite: error: usage: make_suite --out DIR [--seed N]\n");
    return 2;
  }
  libra::data::synthetic::SuiteOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.train_per_task = absl::GetFlag(FLAGS_train);
  options.validation_per_task = absl::GetFlag(FLAGS_validation);
  options.test_per_task = absl::GetFlag(FLAGS_test);
  options.pretrain.examples = absl::GetFlag(FLAGS_pretrain);
  options.pretrain.composition_fraction = absl::GetFlag(FLAGS_pretrain_compositions);
  options.pretrain.framed_fraction = absl::GetFlag(FLAGS_pretrain_framed);
  if (options.train_per_task < 0 || options.validation_per_task < 0 || options.test_per_task < 0 ||
      options.pretrain.examples < 0) {
    std::fprintf(stderr, "make_suite: error: example counts must be >= 0\n");
    return 2;
  }
  for (double fraction : {options.pretrain.composition_fraction, options.pretrain.framed_fraction}) {
    if (fraction < 0 || fraction > 1) {
      std::fprintf(stderr, "make_suite: error: fractions must be in [0, 1], got %g\n", fraction);
      return 2;
    }
  }
  const absl::Status status = libra::data::synthetic::WriteSuite(out, options);
  if (!status.ok()) {
    std::fprintf(stderr, "make_suite: error: %s (%s)\n", std::string(status.message()).c_str(),
                 out.c_str());
    return 1;
  }
  std::printf("wrote the synthetic suite to %s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return libra::RunWithExceptionBarrier("make_suite", [&] { return Main(argc, argv); });
}
