// Progress of a long job (an experiment, a training run) on stderr: a live line rewritten in place on
// a terminal, otherwise a plain line at most every `interval_s` seconds (and
// at the end), so logs of CI and `bazel test` stay short.
//
//   Progress progress("train experts", /*total=*/24);
//   for (...) { ...; progress.Advance(task_name); }
//   progress.Finish();
//
// LIBRA_PROGRESS=live or LIBRA_PROGRESS=plain overrides the terminal check.
#ifndef LIBRA_CORE_PROGRESS_H_
#define LIBRA_CORE_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"

namespace libra {

class Progress {
 public:
  Progress(std::string label, int total, std::FILE* out = stderr, double interval_s = 10.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(int done, absl::string_view detail = "");
  void Advance(absl::string_view detail = "") { Update(done_ + 1, detail); }
  // Prints the final line (once); the destructor calls it.
  void Finish(absl::string_view detail = "");

  bool live() const { return live_; }
  // Whether a Progress on `out` would draw the live line.
  static bool IsLive(std::FILE* out);

  // "[label] 3/24 12% 0:41 elapsed, ~4:59 left  detail" (pure, for tests).
  static std::string FormatLine(absl::string_view label, int done, int total, double elapsed_s,
                                absl::string_view detail);

 private:
  double Elapsed() const;
  void Print(absl::string_view detail, bool final_line);

  std::string label_;
  int total_;
  int done_ = 0;
  std::FILE* out_;
  double interval_s_;
  bool live_;
  bool finished_ = false;
  double last_print_s_ = -1e9;
  size_t last_width_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace libra

#endif  // LIBRA_CORE_PROGRESS_H_
