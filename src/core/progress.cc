#include "src/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace libra {

namespace {

std::string Clock(double seconds) {
  int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

bool Progress::IsLive(std::FILE* out) {
  const char* mode = std::getenv("LIBRA_PROGRESS");
  if (mode != nullptr && std::strcmp(mode, "live") == 0) return true;
  if (mode != nullptr && std::strcmp(mode, "plain") == 0) return false;
  return isatty(fileno(out)) == 1;
}

Progress::Progress(std::string label, int total, std::FILE* out, double interval_s)
    : label_(std::move(label)),
      total_(std::max(total, 0)),
      out_(out),
      interval_s_(interval_s),
      live_(IsLive(out)),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { Finish(); }

double Progress::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::FormatLine(absl::string_view label, int done, int total, double elapsed_s,
                                 absl::string_view detail) {
  std::string line = absl::StrCat("[", label, "] ", done, "/", total);
  if (total > 0) {
    absl::StrAppend(&line, absl::StrFormat(" %3d%%", 100 * std::min(done, total) / total));
  }
  absl::StrAppend(&line, " ", Clock(elapsed_s), " elapsed");
  if (done > 0 && total > done) {
    absl::StrAppend(&line, ", ~", Clock(elapsed_s / done * (total - done)), " left");
  }
  if (!detail.empty()) absl::StrAppend(&line, "  ", detail);
  return line;
}

void Progress::Print(absl::string_view detail, bool final_line) {
  std::string line = FormatLine(label_, done_, total_, Elapsed(), detail);
  if (live_) {
    // Pad over the previous, possibly longer, line.
    std::string pad(last_width_ > line.size() ? last_width_ - line.size() : 0, ' ');
    std::fprintf(out_, "\r%s%s%s", line.c_str(), pad.c_str(), final_line ? "\n" : "");
    last_width_ = line.size();
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void Progress::Update(int done, absl::string_view detail) {
  if (finished_) return;
  done_ = done;
  double now = Elapsed();
  if (live_ || now - last_print_s_ >= interval_s_) {
    last_print_s_ = now;
    Print(detail, /*final_line=*/false);
  }
}

void Progress::Finish(absl::string_view detail) {
  if (finished_) return;
  finished_ = true;
  Print(detail.empty() ? "done" : detail, /*final_line=*/true);
}

}  // namespace libra
