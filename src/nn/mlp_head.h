// The latent-replay paper's MLP head: Linear(d, 1024), ReLU, Linear(1024, C),
// one head whose output layer grows as classes arrive (the old classes'
// rows are kept), trained with Adam and cross-entropy on the current task
// plus the replay buffer.
//
//   MlpHead head(feature_dim, MlpHeadOptions().epochs(5).seed(seed));
//   LIBRA_RETURN_IF_ERROR(head.Learn(Concatenate(task, buffer.Contents())));
//   std::vector<int> predicted = head.Predict(test.x);
#ifndef LIBRA_NN_MLP_HEAD_H_
#define LIBRA_NN_MLP_HEAD_H_

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "src/core/cl/head.h"

namespace libra {

// Linear(in, hidden), ReLU, Linear(hidden, classes) with a growable output.
class GrowingMlpImpl : public torch::nn::Module {
 public:
  GrowingMlpImpl(int64_t in, int64_t hidden);
  // Adds output units (new rows initialised as Linear's default; the old
  // rows are copied unchanged). Also the first call that gives it outputs.
  void Grow(int64_t classes);
  int64_t classes() const { return classes_; }
  torch::Tensor forward(const torch::Tensor& x);
  // Forward multiply-adds per sample at the current size.
  double ForwardMacs() const;

 private:
  int64_t in_, hidden_, classes_ = 0;
  torch::nn::Linear hidden_layer_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(GrowingMlp);

struct MlpHeadOptions {
  int64_t hidden = 1024;
  int epochs = 5;
  int batch_size = 32;
  double learning_rate = 1e-3;
  uint64_t seed = 1;
  MlpHeadOptions& set_hidden(int64_t v) { hidden = v; return *this; }
  MlpHeadOptions& set_epochs(int v) { epochs = v; return *this; }
  MlpHeadOptions& set_batch_size(int v) { batch_size = v; return *this; }
  MlpHeadOptions& set_learning_rate(double v) { learning_rate = v; return *this; }
  MlpHeadOptions& set_seed(uint64_t v) { seed = v; return *this; }
};

// Output units of a single head grown as classes arrive: labels get units
// in order of arrival.
class LabelUnits {
 public:
  // Gives unseen labels the next units; returns every label's unit.
  std::vector<int64_t> Assign(const std::vector<int>& labels);
  int LabelOf(int64_t unit) const { return labels_[unit]; }
  int64_t size() const { return static_cast<int64_t>(labels_.size()); }

 private:
  std::vector<int> labels_;
};

struct BatchTraining {
  int epochs = 1;
  int batch_size = 32;
  double learning_rate = 1e-3;
  // Epoch e visits the rows in cl::SeededPermutation(n, order_seed + e).
  uint64_t order_seed = 1;
};

// Adam (a fresh optimiser) on `params`, minimising loss(x_batch, y_batch)
// over shuffled batches for the given epochs.
void TrainInBatches(const std::vector<torch::Tensor>& params,
                    const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& loss,
                    const torch::Tensor& x, const torch::Tensor& y, const BatchTraining& training);

// The units' labels for the argmax of each row of `logits`.
std::vector<int> ArgmaxLabels(const torch::Tensor& logits, const LabelUnits& units);

class MlpHead : public cl::Head {
 public:
  MlpHead(int64_t feature_dim, MlpHeadOptions options);
  std::string name() const override { return "mlp"; }
  bool uses_replay() const override { return true; }
  absl::Status Learn(const cl::LabeledFeatures& train) override;
  std::vector<int> Predict(const cl::Features& x) const override;
  double training_macs() const override { return macs_; }

 private:
  int64_t feature_dim_;
  MlpHeadOptions options_;
  mutable GrowingMlp net_{nullptr};  // Predict runs forward, which is not const
  LabelUnits units_;
  uint64_t learn_calls_ = 0;
  double macs_ = 0.0;
};

// Rows of `x` as a float tensor [n, d] (a copy).
torch::Tensor FeaturesToTensor(const cl::Features& x);
// A float tensor [n, d] as rows.
cl::Features TensorToFeatures(const torch::Tensor& t);

}  // namespace libra

#endif  // LIBRA_NN_MLP_HEAD_H_
