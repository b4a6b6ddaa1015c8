#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/mlp_head.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/cl/flops.h"
#include "src/core/cl/task_stream.h"

namespace libra {

GrowingMlpImpl::GrowingMlpImpl(int64_t in, int64_t hidden) : in_(in), hidden_(hidden) {
  hidden_layer_ = register_module("hidden", torch::nn::Linear(in, hidden));
}

void GrowingMlpImpl::Grow(int64_t classes) {
  if (classes <= classes_) return;
  torch::nn::Linear grown(hidden_, classes);
  if (output_) {
    torch::NoGradGuard no_grad;
    grown->weight.slice(0, 0, classes_).copy_(output_->weight);
    grown->bias.slice(0, 0, classes_).copy_(output_->bias);
  }
  output_ = output_ ? replace_module("output", grown) : register_module("output", grown);
  classes_ = classes;
}

torch::Tensor GrowingMlpImpl::forward(const torch::Tensor& x) {
  return output_->forward(torch::relu(hidden_layer_->forward(x)));
}

double GrowingMlpImpl::ForwardMacs() const {
  return *cl::ForwardMacs({cl::LinearShape(static_cast<int>(in_), static_cast<int>(hidden_)),
                           cl::LinearShape(static_cast<int>(hidden_), static_cast<int>(classes_))},
                          {static_cast<int>(in_)});
}

torch::Tensor FeaturesToTensor(const cl::Features& x) {
  return torch::from_blob(const_cast<float*>(x.data()), {x.rows(), x.cols()}, torch::kFloat32)
      .clone();
}

cl::Features TensorToFeatures(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat32).contiguous();
  cl::Features out(c.size(0), c.size(1));
  std::copy(c.data_ptr<float>(), c.data_ptr<float>() + c.numel(), out.data());
  return out;
}

MlpHead::MlpHead(int64_t feature_dim, MlpHeadOptions options)
    : feature_dim_(feature_dim), options_(options) {
  torch::manual_seed(options_.seed);
  net_ = GrowingMlp(feature_dim, options_.hidden);
}

std::vector<int64_t> LabelUnits::Assign(const std::vector<int>& labels) {
  std::vector<int64_t> units;
  units.reserve(labels.size());
  for (int label : labels) {
    auto it = std::find(labels_.begin(), labels_.end(), label);
    if (it == labels_.end()) it = labels_.insert(labels_.end(), label);
    units.push_back(it - labels_.begin());
  }
  return units;
}

void TrainInBatches(const std::vector<torch::Tensor>& params,
                    const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& loss,
                    const torch::Tensor& x, const torch::Tensor& y, const BatchTraining& training) {
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(training.learning_rate));
  const int n = static_cast<int>(x.size(0));
  for (int epoch = 0; epoch < training.epochs; ++epoch) {
    const std::vector<int> order = cl::SeededPermutation(n, training.order_seed + epoch);
    const torch::Tensor index = torch::tensor(std::vector<int64_t>(order.begin(), order.end()));
    for (int start = 0; start < n; start += training.batch_size) {
      const torch::Tensor batch = index.slice(0, start, std::min(n, start + training.batch_size));
      optimizer.zero_grad();
      loss(x.index_select(0, batch), y.index_select(0, batch)).backward();
      optimizer.step();
    }
  }
}

std::vector<int> ArgmaxLabels(const torch::Tensor& logits, const LabelUnits& units) {
  const torch::Tensor best = logits.argmax(1).contiguous();
  std::vector<int> out;
  out.reserve(best.size(0));
  for (int64_t i = 0; i < best.size(0); ++i) out.push_back(units.LabelOf(best[i].item<int64_t>()));
  return out;
}

absl::Status MlpHead::Learn(const cl::LabeledFeatures& train) {
  if (train.x.cols() != feature_dim_) {
    return absl::InvalidArgumentError(
        absl::StrCat("mlp head: feature width ", train.x.cols(), ", built for ", feature_dim_));
  }
  const std::vector<int64_t> targets = units_.Assign(train.y);
  torch::manual_seed(options_.seed * 7919 + ++learn_calls_);
  net_->Grow(units_.size());
  // A fresh optimiser per task: the output layer is a new tensor after Grow.
  BatchTraining training{options_.epochs, options_.batch_size, options_.learning_rate,
                         options_.seed * 1000003ull + learn_calls_ * 1009};
  TrainInBatches(
      net_->parameters(),
      [&](const torch::Tensor& x, const torch::Tensor& y) {
        return torch::nn::functional::cross_entropy(net_->forward(x), y);
      },
      FeaturesToTensor(train.x), torch::tensor(targets, torch::kInt64), training);
  macs_ += cl::TrainingMacs(net_->ForwardMacs(),
                            static_cast<double>(train.y.size()) * options_.epochs);
  return absl::OkStatus();
}

std::vector<int> MlpHead::Predict(const cl::Features& x) const {
  torch::NoGradGuard no_grad;
  if (units_.size() == 0) return std::vector<int>(x.rows(), -1);
  return ArgmaxLabels(net_->forward(FeaturesToTensor(x)), units_);
}

}  // namespace libra
