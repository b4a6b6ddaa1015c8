#include "papers/latent_replay/encoders.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/cl/flops.h"
#include "src/core/cl/task_stream.h"
#include "src/nn/mlp_head.h"

namespace libra::papers::latent_replay {
namespace {

constexpr int kSide = 28;
constexpr float kDenoisingNoiseStd = 0.3f;
constexpr int kEncodeBatch = 256;

// [n, 1, 28, 28] -> conv-relu-pool -> conv-relu-pool -> [n, features].
class CnnEncoderImpl : public torch::nn::Module {
 public:
  explicit CnnEncoderImpl(const EncoderShape& s)
      : conv1(register_module("conv1", torch::nn::Conv2d(
                                           torch::nn::Conv2dOptions(1, s.conv1, 3).padding(1)))),
        conv2(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                           s.conv1, s.conv2, 3).padding(1)))),
        fc(register_module("fc", torch::nn::Linear(s.conv2 * 7 * 7, s.features))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);  // [n, c1, 14, 14]
    x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);  // [n, c2, 7, 7]
    return torch::relu(fc->forward(x.flatten(1)));            // [n, features]
  }

  torch::nn::Conv2d conv1, conv2;
  torch::nn::Linear fc;
};
TORCH_MODULE(CnnEncoder);

torch::Tensor RowsToImages(const cl::Features& rows) {
  return FeaturesToTensor(rows).view({-1, 1, kSide, kSide});
}

std::string WeightsPath(const std::string& dir) { return dir + "/encoder.pt"; }

absl::StatusOr<CnnEncoder> LoadEncoder(const EncoderSpec& spec, const std::string& dir) {
  CnnEncoder encoder(spec.shape);
  try {
    torch::load(encoder, WeightsPath(dir));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(WeightsPath(dir), ": cannot load encoder \"",
                                                   spec.name, "\": ", e.what()));
  }
  return encoder;
}

// The pretraining loss of one batch: cross-entropy through a linear
// classifier, or the reconstruction's binary cross-entropy from a noisy copy.
torch::Tensor PretrainingLoss(const EncoderSpec& spec, CnnEncoder& encoder,
                              torch::nn::Linear& top, const torch::Tensor& x,
                              const torch::Tensor& y) {
  if (spec.pretraining == Pretraining::kSupervised) {
    return torch::nn::functional::cross_entropy(top->forward(encoder->forward(x)), y);
  }
  const torch::Tensor noisy = (x + kDenoisingNoiseStd * torch::randn_like(x)).clamp(0.0, 1.0);
  const torch::Tensor logits = top->forward(encoder->forward(noisy));
  return torch::nn::functional::binary_cross_entropy_with_logits(logits, x.flatten(1));
}

}  // namespace

cl::Features ImagesAsRows(const data::ImageSet& images) {
  cl::Features rows(images.size(), images.pixels_per_image());
  std::copy(images.pixels.begin(), images.pixels.end(), rows.data());
  return rows;
}

double EncoderForwardMacs(const EncoderShape& s) {
  return *cl::ForwardMacs({cl::Conv2dShape(1, s.conv1, 3, 1, 1), cl::MaxPoolShape(2),
                           cl::Conv2dShape(s.conv1, s.conv2, 3, 1, 1), cl::MaxPoolShape(2),
                           cl::FlattenShape(), cl::LinearShape(s.conv2 * 49, s.features)},
                          {1, kSide, kSide});
}

absl::Status PretrainEncoder(const EncoderSpec& spec, const data::ImageSet& images, uint64_t seed,
                             const std::string& dir) {
  if (images.rows != kSide || images.cols != kSide) {
    return absl::InvalidArgumentError(absl::StrCat("encoder \"", spec.name, "\": images are ",
                                                   images.rows, "x", images.cols, ", not 28x28"));
  }
  torch::manual_seed(seed);
  CnnEncoder encoder(spec.shape);
  if (spec.pretraining != Pretraining::kRandom) {
    const int classes = *std::max_element(images.labels.begin(), images.labels.end()) + 1;
    const int out = spec.pretraining == Pretraining::kSupervised ? classes : kSide * kSide;
    torch::nn::Linear top(spec.shape.features, out);
    std::vector<torch::Tensor> params = encoder->parameters();
    for (const torch::Tensor& p : top->parameters()) params.push_back(p);
    torch::optim::Adam optimizer(params, torch::optim::AdamOptions(spec.learning_rate));
    const torch::Tensor x = RowsToImages(ImagesAsRows(images));
    const torch::Tensor y = torch::tensor(
        std::vector<int64_t>(images.labels.begin(), images.labels.end()), torch::kInt64);
    const int n = static_cast<int>(images.size());
    for (int epoch = 0; epoch < spec.epochs; ++epoch) {
      const std::vector<int> order = cl::SeededPermutation(n, seed * 1009 + epoch + 1);
      const torch::Tensor index = torch::tensor(std::vector<int64_t>(order.begin(), order.end()));
      for (int start = 0; start < n; start += spec.batch_size) {
        const torch::Tensor batch = index.slice(0, start, std::min(n, start + spec.batch_size));
        optimizer.zero_grad();
        PretrainingLoss(spec, encoder, top, x.index_select(0, batch), y.index_select(0, batch))
            .backward();
        optimizer.step();
      }
    }
  }
  try {
    torch::save(encoder, WeightsPath(dir));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(WeightsPath(dir), ": cannot write: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<cl::Features> EncodeImages(const EncoderSpec& spec, const std::string& dir,
                                          const data::ImageSet& images) {
  auto loaded = LoadEncoder(spec, dir);
  if (!loaded.ok()) return loaded.status();
  CnnEncoder encoder = *loaded;
  encoder->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = RowsToImages(ImagesAsRows(images));
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < x.size(0); start += kEncodeBatch) {
    parts.push_back(encoder->forward(x.slice(0, start, start + kEncodeBatch)));
  }
  return TensorToFeatures(torch::cat(parts));
}

namespace {

// Encoder and grown MLP head trained end to end on images.
class RawReplayHead : public cl::Head {
 public:
  RawReplayHead(const EncoderSpec& spec, CnnEncoder encoder, const RawReplayOptions& options)
      : spec_(spec), encoder_(std::move(encoder)), options_(options) {
    torch::manual_seed(options.seed);
    mlp_ = GrowingMlp(spec.shape.features, options.hidden);
  }
  std::string name() const override { return "raw_replay"; }
  bool uses_replay() const override { return true; }
  double training_macs() const override { return macs_; }

  absl::Status Learn(const cl::LabeledFeatures& train) override {
    for (int label : train.y) {
      if (std::find(units_.begin(), units_.end(), label) == units_.end()) units_.push_back(label);
    }
    torch::manual_seed(options_.seed * 7919 + ++calls_);
    mlp_->Grow(static_cast<int64_t>(units_.size()));
    std::vector<int64_t> targets;
    for (int label : train.y) targets.push_back(std::find(units_.begin(), units_.end(), label) - units_.begin());
    const torch::Tensor x = RowsToImages(train.x);
    const torch::Tensor y = torch::tensor(targets, torch::kInt64);
    std::vector<torch::Tensor> params = encoder_->parameters();
    for (const torch::Tensor& p : mlp_->parameters()) params.push_back(p);
    torch::optim::Adam optimizer(params, torch::optim::AdamOptions(options_.learning_rate));
    encoder_->train();
    const int n = static_cast<int>(train.y.size());
    for (int epoch = 0; epoch < options_.epochs; ++epoch) {
      const std::vector<int> order = cl::SeededPermutation(n, options_.seed * 1000003ull + calls_ * 1009 + epoch);
      const torch::Tensor index = torch::tensor(std::vector<int64_t>(order.begin(), order.end()));
      for (int start = 0; start < n; start += options_.batch_size) {
        const torch::Tensor batch = index.slice(0, start, std::min(n, start + options_.batch_size));
        optimizer.zero_grad();
        torch::nn::functional::cross_entropy(
            mlp_->forward(encoder_->forward(x.index_select(0, batch))), y.index_select(0, batch))
            .backward();
        optimizer.step();
      }
    }
    macs_ += cl::TrainingMacs(EncoderForwardMacs(spec_.shape) + mlp_->ForwardMacs(),
                              static_cast<double>(n) * options_.epochs);
    return absl::OkStatus();
  }

  std::vector<int> Predict(const cl::Features& x) const override {
    torch::NoGradGuard no_grad;
    encoder_->eval();
    std::vector<int> out(x.rows(), -1);
    if (units_.empty()) return out;
    const torch::Tensor images = RowsToImages(x);
    for (int64_t start = 0; start < images.size(0); start += kEncodeBatch) {
      const torch::Tensor units =
          mlp_->forward(encoder_->forward(images.slice(0, start, start + kEncodeBatch))).argmax(1);
      for (int64_t i = 0; i < units.size(0); ++i) out[start + i] = units_[units[i].item<int64_t>()];
    }
    return out;
  }

 private:
  EncoderSpec spec_;
  mutable CnnEncoder encoder_;  // Predict runs forward, which is not const
  mutable GrowingMlp mlp_{nullptr};
  RawReplayOptions options_;
  std::vector<int> units_;
  uint64_t calls_ = 0;
  double macs_ = 0.0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<cl::Head>> MakeRawReplayHead(const EncoderSpec& spec,
                                                            const std::string& dir,
                                                            const RawReplayOptions& options) {
  auto encoder = LoadEncoder(spec, dir);
  if (!encoder.ok()) return encoder.status();
  return std::unique_ptr<cl::Head>(new RawReplayHead(spec, *encoder, options));
}

}  // namespace libra::papers::latent_replay
