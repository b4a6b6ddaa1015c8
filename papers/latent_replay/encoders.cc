#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "papers/latent_replay/encoders.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/cl/flops.h"
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
    const torch::Tensor y = torch::tensor(
        std::vector<int64_t>(images.labels.begin(), images.labels.end()), torch::kInt64);
    TrainInBatches(
        params,
        [&](const torch::Tensor& xb, const torch::Tensor& yb) {
          return PretrainingLoss(spec, encoder, top, xb, yb);
        },
        RowsToImages(ImagesAsRows(images)), y,
        BatchTraining{spec.epochs, spec.batch_size, spec.learning_rate, seed * 1009 + 1});
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
    const std::vector<int64_t> targets = units_.Assign(train.y);
    torch::manual_seed(options_.seed * 7919 + ++calls_);
    mlp_->Grow(units_.size());
    std::vector<torch::Tensor> params = encoder_->parameters();
    for (const torch::Tensor& p : mlp_->parameters()) params.push_back(p);
    encoder_->train();
    TrainInBatches(
        params,
        [&](const torch::Tensor& x, const torch::Tensor& y) {
          return torch::nn::functional::cross_entropy(mlp_->forward(encoder_->forward(x)), y);
        },
        RowsToImages(train.x), torch::tensor(targets, torch::kInt64),
        BatchTraining{options_.epochs, options_.batch_size, options_.learning_rate,
                      options_.seed * 1000003ull + calls_ * 1009});
    macs_ += cl::TrainingMacs(EncoderForwardMacs(spec_.shape) + mlp_->ForwardMacs(),
                              static_cast<double>(train.y.size()) * options_.epochs);
    return absl::OkStatus();
  }

  std::vector<int> Predict(const cl::Features& x) const override {
    torch::NoGradGuard no_grad;
    encoder_->eval();
    if (units_.size() == 0) return std::vector<int>(x.rows(), -1);
    const torch::Tensor images = RowsToImages(x);
    std::vector<int> out;
    for (int64_t start = 0; start < images.size(0); start += kEncodeBatch) {
      const std::vector<int> part = ArgmaxLabels(
          mlp_->forward(encoder_->forward(images.slice(0, start, start + kEncodeBatch))), units_);
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }

 private:
  EncoderSpec spec_;
  mutable CnnEncoder encoder_;  // Predict runs forward, which is not const
  mutable GrowingMlp mlp_{nullptr};
  RawReplayOptions options_;
  LabelUnits units_;
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
