#include "src/nn/training_log.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace libra::nn {

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  char text[32];
  std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

absl::StatusOr<TrainingLog> TrainingLog::Open(const std::string& metrics_path, int64_t log_every,
                                              bool progress, int64_t total_steps) {
  TrainingLog log;
  if (!metrics_path.empty()) {
    log.metrics_.open(metrics_path, std::ios::app);
    if (!log.metrics_) {
      return absl::PermissionDeniedError(absl::StrCat("cannot open metrics log ", metrics_path));
    }
  }
  log.log_every_ = std::max<int64_t>(1, log_every);
  log.progress_ = progress;
  if (progress && Progress::IsLive(stderr)) {
    log.bar_ = std::make_unique<Progress>("train", static_cast<int>(total_steps));
  }
  log.total_steps_ = total_steps;
  return log;
}

void TrainingLog::Record(const TrainingStepRecord& r) {
  loss_ema_ = r.steps_this_run == 1 ? r.loss : 0.9 * loss_ema_ + 0.1 * r.loss;
  const double eta = r.elapsed_seconds / r.steps_this_run * (total_steps_ - r.step);
  const bool log_now = r.step % log_every_ == 0 || r.step == total_steps_;
  if (metrics_.is_open() && log_now) {
    nlohmann::json line = {{"step", r.step},
                           {"loss", r.loss},
                           {"lr", r.learning_rate},
                           {"grad_norm", r.grad_norm},
                           {"tokens_per_s", r.tokens_per_second},
                           {"elapsed_s", r.elapsed_seconds}};
    metrics_ << line.dump() << "\n";
    metrics_.flush();
  }
  if (bar_ != nullptr) {
    const std::string detail =
        absl::StrFormat("loss %.4f  %.0f tok/s", loss_ema_, r.tokens_per_second);
    bar_->Update(static_cast<int>(r.step), detail);
    if (r.step == total_steps_) bar_->Finish(detail);
  } else if (progress_ && log_now) {
    std::fprintf(stderr, "step %lld/%lld loss %.4f lr %.3g %.0f tok/s ETA %s\n",
                 static_cast<long long>(r.step), static_cast<long long>(total_steps_), r.loss,
                 r.learning_rate, r.tokens_per_second, FormatDuration(eta).c_str());
  }
}

void TrainingLog::Interrupt() {
  if (bar_ != nullptr) bar_->Finish("stopped");
}

}  // namespace libra::nn
