// What a training run reports per optimizer step: a JSONL metrics line every
// `log_every` steps (and at the last), and on stderr a progress bar when it
// is a terminal (the core's Progress line), plain lines at the logged steps
// otherwise. Torch-free.
//
//   LIBRA_ASSIGN_OR_RETURN(TrainingLog log,
//                          TrainingLog::Open(metrics_path, log_every, progress, total_steps));
//   log.Record({.step = 3, .steps_this_run = 3, .loss = 1.2, ...});
#ifndef LIBRA_NN_TRAINING_LOG_H_
#define LIBRA_NN_TRAINING_LOG_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "src/core/progress.h"

namespace libra::nn {

struct TrainingStepRecord {
  int64_t step = 0;            // optimizer steps done (including resumed ones)
  int64_t steps_this_run = 0;  // of which this run did
  double loss = 0.0;
  double learning_rate = 0.0;
  double grad_norm = 0.0;
  double tokens_per_second = 0.0;
  double elapsed_seconds = 0.0;  // since this run started
};

class TrainingLog {
 public:
  // `metrics_path` empty: no JSONL; otherwise appended to.
  static absl::StatusOr<TrainingLog> Open(const std::string& metrics_path, int64_t log_every,
                                          bool progress, int64_t total_steps);

  void Record(const TrainingStepRecord& record);

  // Ends a half-drawn progress bar before an error is reported.
  void Interrupt();

 private:
  TrainingLog() = default;

  std::ofstream metrics_;
  int64_t log_every_ = 1;
  bool progress_ = false;
  std::unique_ptr<Progress> bar_;  // the live line; null when not drawn
  int64_t total_steps_ = 0;
  double loss_ema_ = 0.0;  // the live line shows a smoothed loss
};

// "H:MM:SS".
std::string FormatDuration(double seconds);

}  // namespace libra::nn

#endif  // LIBRA_NN_TRAINING_LOG_H_
