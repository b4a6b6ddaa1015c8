#include "src/data/images/image_set.h"

#include <algorithm>
#include <cassert>

namespace libra::data {

ImageSet SelectImages(const ImageSet& set, const std::vector<int64_t>& indices) {
  ImageSet out;
  out.rows = set.rows;
  out.cols = set.cols;
  const int64_t n = set.pixels_per_image();
  out.pixels.reserve(indices.size() * n);
  out.labels.reserve(indices.size());
  for (int64_t i : indices) {
    assert(i >= 0 && i < set.size());
    out.pixels.insert(out.pixels.end(), set.Image(i), set.Image(i) + n);
    out.labels.push_back(set.labels[i]);
  }
  return out;
}

ImageSet TakePerClass(const ImageSet& set, int num_classes, int skip_per_class, int per_class) {
  std::vector<int> seen(num_classes, 0);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < set.size(); ++i) {
    const int label = set.labels[i];
    if (label < 0 || label >= num_classes) continue;
    const int rank = seen[label]++;
    if (rank >= skip_per_class && rank < skip_per_class + per_class) keep.push_back(i);
  }
  return SelectImages(set, keep);
}

int64_t FewestPerClass(const ImageSet& set, int num_classes) {
  if (num_classes <= 0) return 0;
  std::vector<int64_t> count(num_classes, 0);
  for (int label : set.labels) {
    if (label >= 0 && label < num_classes) ++count[label];
  }
  return *std::min_element(count.begin(), count.end());
}

}  // namespace libra::data
