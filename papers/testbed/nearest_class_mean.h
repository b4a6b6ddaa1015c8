// A linear probe for task identity: nearest class mean on features
// standardised with the training set's per-dimension mean and standard
// deviation. (With a shared isotropic metric, nearest class mean is a linear
// classifier: argmin |z - c_k|^2 = argmax 2 c_k.z - |c_k|^2.)
//
//   // train[k] / test[k]: feature vectors of class k
//   double accuracy = NearestClassMeanAccuracy(train, test);
#ifndef LIBRA_PAPERS_TESTBED_NEAREST_CLASS_MEAN_H_
#define LIBRA_PAPERS_TESTBED_NEAREST_CLASS_MEAN_H_

#include <vector>

namespace libra::papers::testbed {

using ClassFeatures = std::vector<std::vector<std::vector<float>>>;  // [class][example][dim]

// Fraction of test vectors whose nearest (standardised) training class mean
// is their own class; ties go to the lower class index. Classes without
// training vectors are never predicted; 0 when there are no test vectors.
double NearestClassMeanAccuracy(const ClassFeatures& train, const ClassFeatures& test);

}  // namespace libra::papers::testbed

#endif  // LIBRA_PAPERS_TESTBED_NEAREST_CLASS_MEAN_H_
