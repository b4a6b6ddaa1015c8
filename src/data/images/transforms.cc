#include "src/data/images/transforms.h"

#include <algorithm>
#include <cassert>
#include <random>

#include "absl/strings/str_cat.h"

namespace libra::data {
namespace {

constexpr ImageTransform kAll[] = {ImageTransform::kIdentity, ImageTransform::kInvert,
                                   ImageTransform::kRotate90, ImageTransform::kNoise};

void Rotate90(const float* in, int side, float* out) {
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) out[r * side + c] = in[(side - 1 - c) * side + r];
  }
}

}  // namespace

std::string ImageTransformName(ImageTransform transform) {
  switch (transform) {
    case ImageTransform::kIdentity: return "identity";
    case ImageTransform::kInvert: return "invert";
    case ImageTransform::kRotate90: return "rotate90";
    case ImageTransform::kNoise: return "noise";
  }
  return "?";
}

absl::StatusOr<ImageTransform> ParseImageTransform(const std::string& name) {
  for (ImageTransform t : kAll) {
    if (ImageTransformName(t) == name) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown image transform \"", name, "\" (known: identity, invert, rotate90, noise)"));
}

ImageSet TransformImages(const ImageSet& set, ImageTransform transform, uint64_t seed) {
  ImageSet out = set;
  const int64_t n = set.pixels_per_image();
  switch (transform) {
    case ImageTransform::kIdentity:
      break;
    case ImageTransform::kInvert:
      for (float& p : out.pixels) p = 1.0f - p;
      break;
    case ImageTransform::kRotate90:
      assert(set.rows == set.cols);
      for (int64_t i = 0; i < set.size(); ++i) Rotate90(set.Image(i), set.rows, &out.pixels[i * n]);
      break;
    case ImageTransform::kNoise: {
      std::mt19937_64 rng(seed);
      std::normal_distribution<float> noise(0.0f, kNoiseStd);
      for (float& p : out.pixels) p = std::clamp(p + noise(rng), 0.0f, 1.0f);
      break;
    }
  }
  return out;
}

}  // namespace libra::data
