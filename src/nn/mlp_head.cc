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

absl::Status MlpHead::Learn(const cl::LabeledFeatures& train) {
  if (train.x.cols() != feature_dim_) {
    return absl::InvalidArgumentError(
        absl::StrCat("mlp head: feature width ", train.x.cols(), ", built for ", feature_dim_));
  }
  for (int label : train.y) {
    if (std::find(unit_labels_.begin(), unit_labels_.end(), label) == unit_labels_.end()) {
      unit_labels_.push_back(label);
    }
  }
  torch::manual_seed(options_.seed * 7919 + ++learn_calls_);
  net_->Grow(static_cast<int64_t>(unit_labels_.size()));
  std::vector<int64_t> targets;
  for (int label : train.y) {
    targets.push_back(std::find(unit_labels_.begin(), unit_labels_.end(), label) -
                      unit_labels_.begin());
  }
  const torch::Tensor x = FeaturesToTensor(train.x);
  const torch::Tensor y = torch::tensor(targets, torch::kInt64);
  // A fresh optimiser per task: the output layer is a new tensor after Grow.
  torch::optim::Adam optimizer(net_->parameters(),
                               torch::optim::AdamOptions(options_.learning_rate));
  const int n = static_cast<int>(train.y.size());
  for (int epoch = 0; epoch < options_.epochs; ++epoch) {
    const std::vector<int> order =
        cl::SeededPermutation(n, options_.seed * 1000003ull + learn_calls_ * 1009 + epoch);
    const torch::Tensor index = torch::tensor(std::vector<int64_t>(order.begin(), order.end()));
    for (int start = 0; start < n; start += options_.batch_size) {
      const torch::Tensor batch = index.slice(0, start, std::min(n, start + options_.batch_size));
      optimizer.zero_grad();
      torch::Tensor loss =
          torch::nn::functional::cross_entropy(net_->forward(x.index_select(0, batch)),
                                               y.index_select(0, batch));
      loss.backward();
      optimizer.step();
    }
  }
  macs_ += cl::TrainingMacs(net_->ForwardMacs(), static_cast<double>(n) * options_.epochs);
  return absl::OkStatus();
}

std::vector<int> MlpHead::Predict(const cl::Features& x) const {
  torch::NoGradGuard no_grad;
  std::vector<int> out(x.rows(), -1);
  if (unit_labels_.empty()) return out;
  const torch::Tensor units = net_->forward(FeaturesToTensor(x)).argmax(1).contiguous();
  for (Eigen::Index i = 0; i < x.rows(); ++i) out[i] = unit_labels_[units[i].item<int64_t>()];
  return out;
}

}  // namespace libra
