#include "papers/common/reproduce.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "absl/strings/cord.h"
#include "papers/common/code_version.h"
#include "papers/common/expectations.h"
#include "papers/common/report.h"
#include "papers/common/subprocess.h"
#include "src/core/io/atomic_file.h"
#include "src/core/exception_barrier.h"
#include "src/core/status_macros.h"

namespace libra::papers {

namespace fs = std::filesystem;
using nlohmann::json;

absl::StatusOr<ReproduceOptions> ParseReproduceArgs(const std::vector<std::string>& args) {
  ReproduceOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--no_plots" || arg == "--noplots") {
      o.plots = false;
      continue;
    }
    if (arg == "--reselect") {
      o.reselect = true;
      continue;
    }
    if (arg == "--claims_only") {
      o.claims_only = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::string value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    auto positive = [&](int* out) -> absl::Status {
      if (!absl::SimpleAtoi(value, out) || *out < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, ": expected a positive integer, got \"", value, "\""));
      }
      return absl::OkStatus();
    };
    if (name == "scale") {
      if (value != "quick" && value != "standard" && value != "full") {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --scale: expected quick, standard or full, got \"", value, "\""));
      }
      o.scale = value;
    } else if (name == "out") {
      o.out = value;
    } else if (name == "seeds") {
      LIBRA_RETURN_IF_ERROR(positive(&o.seeds));
    } else if (name == "threads") {
      LIBRA_RETURN_IF_ERROR(positive(&o.threads));
    } else if (name == "cache_dir") {
      o.cache_dir = value;
    } else if (name == "base_model") {
      o.base_model = value;
    } else if (name == "data") {
      o.data = value;
    } else if (name == "worker") {
      std::vector<std::string> parts = absl::StrSplit(value, '/');
      int k = 0, n = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &k) || !absl::SimpleAtoi(parts[1], &n) ||
          n < 1 || k < 0 || k >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --worker: expected K/N with 0 <= K < N, got \"", value, "\""));
      }
      o.worker_index = k;
      o.worker_count = n;
    } else if (name == "device") {
      int ordinal = 0;
      if (value != "cpu" && value != "cuda" &&
          !(absl::StartsWith(value, "cuda:") && absl::SimpleAtoi(value.substr(5), &ordinal) &&
            ordinal >= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --device: expected cpu, cuda or cuda:N, got \"", value, "\""));
      }
      o.device = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  return o;
}

std::string ReproduceUsage(const std::string& paper) {
  return absl::StrCat(
      "usage: bazel run //papers/", paper, ":reproduce -- [flags]\n",
      "  --scale quick|standard|full\n"
      "                       quick: small model, synthetic suite, CI's budget (default);\n"
      "                       standard: the same lab at the size that decides the claims\n"
      "                       (at most 30 minutes a paper on 2 cores); full: --base_model, --data\n",
      "  --out DIR            output folder (default WORKSPACE/results/", paper, ")\n",
      "  --seeds N            seeds 1..N (default 3)\n",
      "  --threads N          CPU threads (default: all cores)\n",
      "  --cache_dir DIR      artifact cache (default $LIBRA_CACHE or ~/.cache/libra/artifacts)\n",
      "  --base_model DIR     Hugging Face checkpoint folder (full scale)\n",
      "  --data DIR           Flan-style JSONL folder (full scale; see src/data/task_folder.h)\n",
      "  --device D           cpu (default), cuda or cuda:N\n",
      "  --no_plots           skip plot.py\n",
      "  --reselect           run recorded selection steps again (results in the output folder)\n",
      "  --claims_only        run only the conditions the claims read (the claims test's run)\n");
}

std::vector<std::string> ReproduceArgs(const ReproduceOptions& o) {
  std::vector<std::string> args = {"--scale", o.scale, "--seeds", absl::StrCat(o.seeds),
                                   "--device", o.device};
  auto add = [&](const char* flag, const std::string& value) {
    if (value.empty()) return;
    args.push_back(flag);
    args.push_back(value);
  };
  add("--out", o.out);
  if (o.threads > 0) add("--threads", absl::StrCat(o.threads));
  add("--cache_dir", o.cache_dir);
  add("--base_model", o.base_model);
  add("--data", o.data);
  if (o.worker_count > 0) add("--worker", absl::StrCat(o.worker_index, "/", o.worker_count));
  if (!o.plots) args.push_back("--no_plots");
  if (o.reselect) args.push_back("--reselect");
  if (o.claims_only) args.push_back("--claims_only");
  return args;
}

std::string RunfilePath(const std::string& rel) {
  std::vector<std::string> candidates;
  if (const char* d = std::getenv("RUNFILES_DIR"); d && *d) {
    candidates.push_back(absl::StrCat(d, "/libra/", rel));
  }
  if (const char* d = std::getenv("TEST_SRCDIR"); d && *d) {
    candidates.push_back(absl::StrCat(d, "/libra/", rel));
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(absl::StrCat(exe.string(), ".runfiles/libra/", rel));
  candidates.push_back(rel);  // bazel run and bazel test start in the runfiles root
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws && *ws) {
    candidates.push_back(absl::StrCat(ws, "/", rel));
  }
  for (const std::string& c : candidates) {
    if (fs::exists(c, ec)) return c;
  }
  return rel;
}

namespace {

constexpr char kWorkerDonePayload[] = "libra.papers/worker_done";

int DefaultThreads(int threads) {
  if (threads > 0) return threads;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return cores > 0 ? cores : 1;
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// results/<paper>, or results/<scale>/<paper> for another scale than quick.
std::string DefaultOut(const std::string& paper, const std::string& scale) {
  const std::string relative =
      scale == "quick" ? absl::StrCat("results/", paper) : absl::StrCat("results/", scale, "/", paper);
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws && *ws) {
    return absl::StrCat(ws, "/", relative);
  }
  return relative;
}

}  // namespace

absl::Status WorkerDoneStatus() {
  absl::Status s = absl::CancelledError("worker done");
  s.SetPayload(kWorkerDonePayload, absl::Cord("1"));
  return s;
}

bool IsWorkerDone(const absl::Status& status) {
  return status.GetPayload(kWorkerDonePayload).has_value();
}

absl::StatusOr<json> Reproduce(const PaperSpec& spec, const ReproduceOptions& options) {
  if (options.scale == "full" && spec.full_scale_needs_base_model &&
      (options.base_model.empty() || options.data.empty())) {
    return absl::InvalidArgumentError("--scale full needs --base_model DIR and --data DIR");
  }
  if (options.scale == "full" && options.data.empty()) {
    return absl::InvalidArgumentError("--scale full needs --data DIR");
  }
  RunContext ctx;
  ctx.options = options;
  for (int s = 1; s <= options.seeds; ++s) ctx.seeds.push_back(s);
  ctx.out_dir = options.out.empty() ? DefaultOut(spec.id, options.scale) : options.out;
  ctx.threads = spec.configure_runtime ? spec.configure_runtime(options.threads)
                                       : DefaultThreads(options.threads);
  ArtifactCache cache(options.cache_dir.empty() ? ArtifactCache::DefaultRoot() : options.cache_dir);
  ctx.cache = &cache;
  std::error_code ec;
  fs::create_directories(ctx.out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("output folder ", ctx.out_dir, ": ", ec.message()));

  Results results(spec.id, spec.title);
  RunInfo run;
  run.scale = options.scale;
  run.seeds = ctx.seeds;
  run.code_version = CodeVersion();
  for (const KernelPin& pin : kRecordedKernels) {
    const char* value = std::getenv(pin.variable);
    run.kernels[pin.variable] = value != nullptr ? value : "";
  }
  run.started_utc = UtcNow();
  run.threads = ctx.threads;
  run.device = options.device;
  run.base_model = options.base_model;
  run.data = options.data;
  if (!ctx.worker()) std::fprintf(stderr, "== %s (%s scale, seeds 1..%d, %d threads) -> %s\n", spec.id.c_str(),
               options.scale.c_str(), options.seeds, ctx.threads, ctx.out_dir.c_str());
  auto start = std::chrono::steady_clock::now();
  absl::Status ran = spec.run(ctx, results);
  // A worker's artifacts are in the cache when it is done; the parent writes.
  if (ctx.worker() && (ran.ok() || IsWorkerDone(ran))) return json::object();
  if (!ran.ok()) return absl::Status(ran.code(), absl::StrCat(spec.id, ": ", ran.message()));
  run.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  results.SetRun(run);
  results.AddStageTime("evaluation and the rest", std::max(0.0, run.wall_time_s - results.StageSeconds()));

  LIBRA_ASSIGN_OR_RETURN(json doc, results.ToJson());
  const std::string expected = RunfilePath(absl::StrCat("papers/", spec.id, "/expectations.json"));
  if (fs::exists(expected, ec)) {
    LIBRA_ASSIGN_OR_RETURN(Expectations expectations, ReadExpectations(expected));
    AttachExpectations(expectations, doc);
  }
  const std::string results_path = absl::StrCat(ctx.out_dir, "/results.json");
  LIBRA_RETURN_IF_ERROR(WriteFileAtomically(results_path, doc.dump(2) + "\n"));
  LIBRA_RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(ctx.out_dir, "/REPORT.md"), RenderPaperReport(doc)));
  if (options.plots && !doc["plots"].empty()) {
    absl::StatusOr<int> code = RunProgram({"/usr/bin/python3", RunfilePath("papers/common/plot.py"),
                                           results_path, "--out",
                                           absl::StrCat(ctx.out_dir, "/plots")});
    if (!code.ok() || *code != 0) {
      std::fprintf(stderr, "%s: warning: plot.py failed (%s); results.json and REPORT.md are written\n",
                   spec.id.c_str(), code.ok() ? absl::StrCat("exit ", *code).c_str()
                                              : std::string(code.status().message()).c_str());
    }
  }
  return doc;
}

namespace {

// Trained models depend on OpenBLAS's, ATen's and oneDNN's kernels, each
// picked by CPU (OpenBLAS's as it loads, before main). A run started outside
// tools/env.sh (`bazel run`, a shell) executes itself again with the kernel
// sets the claims tests and ./run use, so that its numbers are the recorded
// ones on any x86-64-v3 machine. An explicit other choice is kept, with a
// warning.
void UseTheRecordedKernels(const std::string& paper, char** argv) {
  bool changed = false;
  for (const KernelPin& pin : kRecordedKernels) {
    const char* value = std::getenv(pin.variable);
    if (value != nullptr && std::string(value) == pin.value) continue;
    if (value != nullptr && *value != '\0') {
      std::fprintf(stderr, "%s: warning: %s=%s; the recorded numbers were measured with %s\n",
                   paper.c_str(), pin.variable, value, pin.value);
      continue;
    }
    setenv(pin.variable, pin.value, /*overwrite=*/1);
    changed = true;
  }
  if (!changed) return;
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "%s: warning: cannot run again with the recorded kernel sets (%s); "
                       "numbers may differ slightly from the recorded ones\n",
               paper.c_str(), std::strerror(errno));
}

int ReproduceMainUnguarded(int argc, char** argv, const PaperSpec& spec) {
  UseTheRecordedKernels(spec.id, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<ReproduceOptions> options = ParseReproduceArgs(args);
  if (!options.ok()) {
    std::fprintf(stderr, "%s: error: %s\n%s", spec.id.c_str(),
                 std::string(options.status().message()).c_str(), ReproduceUsage(spec.id).c_str());
    return 2;
  }
  if (options->help) {
    std::printf("%s", ReproduceUsage(spec.id).c_str());
    return 0;
  }
  absl::StatusOr<json> doc = Reproduce(spec, *options);
  if (!doc.ok()) {
    std::fprintf(stderr, "%s: error: %s\n", spec.id.c_str(),
                 std::string(doc.status().message()).c_str());
    return doc.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (options->worker_count > 0) return 0;
  std::printf("%s: %.1f s\n", spec.id.c_str(), (*doc)["wall_time_s"].get<double>());
  for (const json& c : (*doc)["claims"]) {
    std::printf("  %-16s %s%s\n", c["verdict"].get<std::string>().c_str(),
                c["id"].get<std::string>().c_str(),
                c["known_failure"].get<bool>() ? " (known failure)" : "");
  }
  std::printf("  report: %s/REPORT.md\n",
              (options->out.empty() ? DefaultOut(spec.id, options->scale) : options->out).c_str());
  return 0;
}

}  // namespace

int ReproduceMain(int argc, char** argv, const PaperSpec& spec) {
  return RunWithExceptionBarrier(spec.id, [&] { return ReproduceMainUnguarded(argc, argv, spec); });
}

}  // namespace libra::papers
