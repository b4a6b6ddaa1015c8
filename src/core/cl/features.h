// Features for continual learning on frozen encoders: one row per sample.
// Row-major floats, so a row is contiguous and a LibTorch tensor of shape
// [n, d] maps onto it without a copy.
#ifndef LIBRA_CORE_CL_FEATURES_H_
#define LIBRA_CORE_CL_FEATURES_H_

#include <vector>

#include "Eigen/Dense"

namespace libra::cl {

using Features = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A labelled set of feature rows (latents, or flattened raw inputs).
struct LabeledFeatures {
  Features x;
  std::vector<int> y;  // one label per row
};

// The rows at `indices`, in that order.
LabeledFeatures SelectRows(const LabeledFeatures& set, const std::vector<int>& indices);

// `a` followed by `b` (same width; asserted).
LabeledFeatures Concatenate(const LabeledFeatures& a, const LabeledFeatures& b);

// Side by side: [a | b] for the same samples (the paper's ensembling of
// encoders by concatenated features).
Features ConcatenateColumns(const Features& a, const Features& b);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_FEATURES_H_
