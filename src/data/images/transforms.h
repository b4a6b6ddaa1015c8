// Fixed image transformations that make out-of-distribution domains of a
// data set (chosen before any run, never tuned): the inverse image, a
// quarter turn, and additive Gaussian noise of a fixed level.
//
//   ImageSet rotated = TransformImages(set, ImageTransform::kRotate90, seed);
#ifndef LIBRA_DATA_IMAGES_TRANSFORMS_H_
#define LIBRA_DATA_IMAGES_TRANSFORMS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "src/data/images/image_set.h"

namespace libra::data {

enum class ImageTransform {
  kIdentity,
  kInvert,    // p -> 1 - p
  kRotate90,  // a quarter turn clockwise: out[r][c] = in[rows - 1 - c][r] (square images)
  kNoise,     // p + N(0, kNoiseStd^2), clipped to [0, 1]; seeded per image set
};

inline constexpr float kNoiseStd = 0.3f;

// "identity", "invert", "rotate90", "noise"; an unknown name lists the known ones.
absl::StatusOr<ImageTransform> ParseImageTransform(const std::string& name);
std::string ImageTransformName(ImageTransform transform);

// The labels are kept; `seed` matters only for kNoise. kRotate90 requires
// square images (asserted).
ImageSet TransformImages(const ImageSet& set, ImageTransform transform, uint64_t seed);

}  // namespace libra::data

#endif  // LIBRA_DATA_IMAGES_TRANSFORMS_H_
