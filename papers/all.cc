// `bazel run //papers:all`: runs every paper's reproduce target in the order
// papers/BUILD lists them, each into WORKSPACE/results/<paper>/, then writes
// WORKSPACE/results/REPORT.md combining their claims tables and linking each
// paper's report. A failed paper is reported and the others still run.
//
//   all --paper testbed=papers/testbed/reproduce [--paper ...] [-- flags for every paper]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "papers/common/progress.h"
#include "papers/common/report.h"
#include "papers/common/subprocess.h"
#include "src/core/exception_barrier.h"
#include "src/core/io/atomic_file.h"

namespace {

struct PaperTarget {
  std::string name;
  std::string binary;
};

int Main(int argc, char** argv) {
  std::vector<PaperTarget> papers;
  std::vector<std::string> forwarded;
  std::string results_dir;
  bool after_dash = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (after_dash) {
      forwarded.push_back(a);
    } else if (a == "--") {
      after_dash = true;
    } else if (a == "--paper" && i + 1 < argc) {
      std::string spec = argv[++i];
      size_t eq = spec.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "all: error: --paper expects NAME=BINARY, got \"%s\"\n", spec.c_str());
        return 2;
      }
      papers.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
    } else if (a == "--results" && i + 1 < argc) {
      results_dir = argv[++i];
    } else {
      forwarded.push_back(a);  // e.g. --seeds 2, passed to every paper
    }
  }
  if (results_dir.empty()) {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    results_dir = absl::StrCat(ws && *ws ? ws : ".", "/results");
    // Another scale writes beside the quick results, not over them.
    for (size_t i = 0; i < forwarded.size(); ++i) {
      std::string scale;
      if (forwarded[i] == "--scale" && i + 1 < forwarded.size()) scale = forwarded[i + 1];
      if (forwarded[i].rfind("--scale=", 0) == 0) scale = forwarded[i].substr(8);
      if (!scale.empty() && scale != "quick") results_dir = absl::StrCat(results_dir, "/", scale);
    }
  }
  std::vector<libra::papers::PaperEntry> entries;
  libra::papers::Progress progress("papers", static_cast<int>(papers.size()), stderr,
                                   /*interval_s=*/0.0);
  int failed = 0;
  for (const PaperTarget& p : papers) {
    progress.Update(static_cast<int>(entries.size()), absl::StrCat("running ", p.name));
    if (progress.live()) std::fprintf(stderr, "\n");
    const std::string out = absl::StrCat(results_dir, "/", p.name);
    std::vector<std::string> cmd = {p.binary, "--out", out};
    cmd.insert(cmd.end(), forwarded.begin(), forwarded.end());
    libra::papers::PaperEntry entry;
    entry.paper = p.name;
    entry.report_link = absl::StrCat(p.name, "/REPORT.md");
    absl::StatusOr<int> code = libra::papers::RunProgram(cmd);
    if (!code.ok() || *code != 0) {
      entry.error = code.ok() ? absl::StrCat("exit status ", *code) : std::string(code.status().message());
    } else {
      absl::StatusOr<std::string> text = libra::ReadFile(out + "/results.json");
      if (!text.ok()) {
        entry.error = std::string(text.status().message());
      } else {
        entry.doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (entry.doc.is_discarded()) {
          entry.doc = nullptr;
          entry.error = absl::StrCat(out, "/results.json is not JSON");
        }
      }
    }
    if (entry.doc.is_null()) {
      ++failed;
      std::fprintf(stderr, "all: %s failed: %s\n", p.name.c_str(), entry.error.c_str());
    }
    entries.push_back(std::move(entry));
  }
  progress.Update(static_cast<int>(entries.size()));
  progress.Finish(absl::StrCat(papers.size() - failed, " ran, ", failed, " failed"));
  const std::string report = absl::StrCat(results_dir, "/REPORT.md");
  absl::Status written =
      libra::WriteFileAtomically(report, libra::papers::RenderCombinedReport(entries));
  if (!written.ok()) {
    std::fprintf(stderr, "all: error: %s\n", std::string(written.message()).c_str());
    return 1;
  }
  // Where a first run's time went, and so what a second run reuses (the base
  // model and the experts come from the artifact cache).
  std::printf("Where the time went:\n\n%s\n%s\n",
              libra::papers::RenderTimeSummary(entries).c_str(), report.c_str());
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return libra::RunWithExceptionBarrier("all", [&] { return Main(argc, argv); });
}
