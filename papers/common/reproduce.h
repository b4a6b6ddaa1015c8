// The driver every paper's `reproduce` binary runs: parses the common flags,
// runs the paper over its seeds, and writes OUT/results.json, OUT/REPORT.md
// and OUT/plots/*.{png,svg} (plot.py).
//
//   bazel run //papers/<paper>:reproduce -- [--scale quick|standard|full] [--out DIR]
//       [--seeds N] [--threads N] [--cache_dir DIR] [--base_model DIR]
//       [--data DIR] [--device cpu|cuda[:N]] [--no_plots] [--reselect] [--claims_only]
//
//   int main(int argc, char** argv) {
//     return libra::papers::ReproduceMain(argc, argv, {"testbed", "Testbed facts", &RunTestbed});
//   }
//
// The claims come out judged and, when the paper keeps
// papers/<paper>/expectations.json (a data file of its reproduce binary) and
// it was recorded for this run's scale, seeds and configuration, marked with
// what the claims test expects of them (expectations.h). The framework is
// torch-free: a paper that trains with LibTorch passes its runtime set-up as
// PaperSpec::configure_runtime (papers/lab/testbed_lab.h, LabPaper).
//
// Flags are parsed here, not with absl flags, so a paper binary can link any
// library without flag-name clashes.
#ifndef LIBRA_PAPERS_COMMON_REPRODUCE_H_
#define LIBRA_PAPERS_COMMON_REPRODUCE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "papers/common/artifact_cache.h"
#include "papers/common/results.h"

namespace libra::papers {

struct ReproduceOptions {
  std::string scale = "quick";  // "quick", "standard" or "full"
  std::string out;              // empty: WORKSPACE/results/<paper> or ./results/<paper>
  int seeds = 3;                // seeds 1..N
  int threads = 0;              // 0: all cores
  std::string cache_dir;        // empty: ArtifactCache::DefaultRoot()
  std::string base_model;       // full scale: a Hugging Face checkpoint folder
  std::string data;             // full scale: Flan-style JSONL folder
  std::string device = "cpu";   // "cpu", "cuda" or "cuda:N" (models and training)
  bool plots = true;
  // Run recorded selection steps again (e.g. sparse_adapters' learning
  // rates, chosen on validation data) instead of reading their recorded
  // result, and write the fresh record into the output folder.
  bool reselect = false;
  // Run only the conditions some claim reads (the claims test's run): a
  // paper whose tables report more (e.g. sparse_adapters' sparse 1% and
  // block experts, merges of 5 and 10 tasks) leaves the rest to `./run`.
  // Every value it does compute equals the full run's, seed for seed.
  bool claims_only = false;
  bool help = false;
  // Internal (workers.h): "--worker K/N" makes this process worker K of N,
  // which builds its share of the artifacts into the cache and writes
  // nothing else.
  int worker_index = 0;
  int worker_count = 0;
};

// Accepts "--flag value" and "--flag=value". Fails on an unknown flag, a
// missing value, a bad number or an unknown scale, naming the flag.
absl::StatusOr<ReproduceOptions> ParseReproduceArgs(const std::vector<std::string>& args);
std::string ReproduceUsage(const std::string& paper);
// Flags that ParseReproduceArgs reads back into `options` (help aside).
std::vector<std::string> ReproduceArgs(const ReproduceOptions& options);

// What a paper's run function sees.
struct RunContext {
  ReproduceOptions options;
  std::vector<int> seeds;  // 1..options.seeds
  std::string out_dir;     // exists; the paper may write extra files here
  int threads = 1;
  const ArtifactCache* cache = nullptr;
  // quick: the claims test's size; standard: the synthetic lab at the size
  // that decides the claims (a paper without its own standard configuration
  // runs its quick one); full: a real checkpoint and data.
  bool quick() const { return options.scale == "quick"; }
  bool standard() const { return options.scale == "standard"; }
  bool full() const { return options.scale == "full"; }
  bool worker() const { return options.worker_count > 0; }
};

struct PaperSpec {
  std::string id;     // the package name under papers/
  std::string title;
  std::function<absl::Status(const RunContext&, Results&)> run;
  // Sets up the process's compute runtime for `threads` (0: all cores) and
  // returns the thread count in use; unset: nothing to set up.
  std::function<int(int threads)> configure_runtime;
  // --scale full needs --base_model DIR (a checkpoint); false for a paper
  // that trains its own models from the data alone (latent_replay).
  bool full_scale_needs_base_model = true;
};

// The CPU kernel sets every paper run uses. OpenBLAS (matrix products),
// ATen (LibTorch's operators) and oneDNN (LibTorch's convolutions) each
// pick kernels by CPU unless told, and kernels round differently, so
// trained models would depend on the machine (oneDNN takes AVX-512 where
// the CPU has it, and the CNN encoders of papers/latent_replay then train
// to other bits). AVX2 for all three: the -march=x86-64-v3 build needs it
// anyway. ReproduceMain sets them, re-executing itself, when the
// environment does not; tools/env.sh exports the same for everything else,
// and .bazelrc for the tests (a test checks that they agree).
struct KernelPin {
  const char* variable;
  const char* value;
};
inline constexpr KernelPin kRecordedKernels[] = {
    {"OPENBLAS_CORETYPE", "Haswell"},
    {"ATEN_CPU_CAPABILITY", "avx2"},
    {"ONEDNN_MAX_CPU_ISA", "AVX2"},
};

// What a worker process's stage returns once its share of the artifacts is
// built (workers.h); the driver turns it into a clean exit of the worker.
absl::Status WorkerDoneStatus();
bool IsWorkerDone(const absl::Status& status);

// Runs `spec` with already-parsed options; returns the results.json
// document it wrote.
absl::StatusOr<nlohmann::json> Reproduce(const PaperSpec& spec, const ReproduceOptions& options);

// main(): parse, Reproduce, print the claims. Exit 0 when the run completed
// (whatever the verdicts: the claims test judges those), 1 on failure, 2 on
// a usage error.
int ReproduceMain(int argc, char** argv, const PaperSpec& spec);

// The path of a file shipped in runfiles (e.g. "papers/common/plot.py").
std::string RunfilePath(const std::string& workspace_relative);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_REPRODUCE_H_
