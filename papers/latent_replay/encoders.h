// The paper's frozen encoders, at the scale of 28 x 28 grayscale images:
// small CNNs pretrained supervised (on narrow or broad labelled data),
// self-supervised (a denoising autoencoder: reconstruct the clean image
// from one with Gaussian noise), or left at their random initialisation;
// and raw replay, the end-to-end baseline that trains a whole encoder plus
// the MLP head on images with an image buffer. The interface is torch-free
// (features as cl::Features), so the paper's driver is too.
//
//   LIBRA_RETURN_IF_ERROR(PretrainEncoder(spec, images, seed, dir));
//   LIBRA_ASSIGN_OR_RETURN(cl::Features z, EncodeImages(spec, dir, stream_images));
#ifndef LIBRA_PAPERS_LATENT_REPLAY_ENCODERS_H_
#define LIBRA_PAPERS_LATENT_REPLAY_ENCODERS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "src/core/cl/features.h"
#include "src/core/cl/head.h"
#include "src/data/images/image_set.h"

namespace libra::papers::latent_replay {

enum class Pretraining { kSupervised, kDenoisingAutoencoder, kRandom };

struct EncoderShape {
  int conv1 = 16;  // channels of conv 3x3 (pad 1) + ReLU + max-pool 2
  int conv2 = 32;  // the same, second block
  int features = 128;  // Linear(conv2 * 7 * 7, features) + ReLU
};

struct EncoderSpec {
  std::string name;
  Pretraining pretraining = Pretraining::kSupervised;
  EncoderShape shape;
  int epochs = 3;
  int batch_size = 64;
  double learning_rate = 1e-3;
};

// Trains the encoder on `images` (labels used only when supervised) and
// writes DIR/encoder.pt. Seeded and deterministic at a fixed thread count.
absl::Status PretrainEncoder(const EncoderSpec& spec, const data::ImageSet& images, uint64_t seed,
                             const std::string& dir);

// The features of every image, [n, shape.features], by the encoder in DIR.
absl::StatusOr<cl::Features> EncodeImages(const EncoderSpec& spec, const std::string& dir,
                                          const data::ImageSet& images);

// Forward multiply-adds of the encoder per 28 x 28 image (cl/flops.h).
double EncoderForwardMacs(const EncoderShape& shape);

struct RawReplayOptions {
  int64_t hidden = 1024;
  int epochs = 2;
  int batch_size = 32;
  double learning_rate = 1e-3;
  uint64_t seed = 1;
};

// The raw-replay learner as a head over flattened images (rows of 784
// pixels): it fine-tunes a copy of the encoder in DIR together with a grown
// MLP head, end to end; its training MACs count encoder and head,
// backward at 2 x forward.
absl::StatusOr<std::unique_ptr<cl::Head>> MakeRawReplayHead(const EncoderSpec& spec,
                                                            const std::string& dir,
                                                            const RawReplayOptions& options);

// Images as rows of flattened pixels (the raw replay buffer's rows).
cl::Features ImagesAsRows(const data::ImageSet& images);

}  // namespace libra::papers::latent_replay

#endif  // LIBRA_PAPERS_LATENT_REPLAY_ENCODERS_H_
