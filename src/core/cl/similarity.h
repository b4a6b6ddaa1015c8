// Representation similarity and rank agreement.
//
// Linear CKA (Kornblith et al. 2019) between two representations of the
// same n samples, X [n, p] and Y [n, q], each centred by column:
//   CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
// It is 1 for X against itself, invariant to orthogonal transforms and
// isotropic scaling, and in [0, 1]. Against one-hot labels as Y it measures
// how well the features line up with the classes.
//
// Spearman's rank correlation: Pearson's correlation of the ranks, ties
// given their average rank.
#ifndef LIBRA_CORE_CL_SIMILARITY_H_
#define LIBRA_CORE_CL_SIMILARITY_H_

#include <vector>

#include "Eigen/Dense"
#include "src/core/cl/features.h"

namespace libra::cl {

// 0 when either side is constant. Rows must agree (asserted).
double LinearCka(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);

// One-hot rows for labels in [0, num_classes).
Eigen::MatrixXd OneHot(const std::vector<int>& labels, int num_classes);

// Ranks from 1, ties averaged.
std::vector<double> Ranks(const std::vector<double>& values);
// 0 when either side has no spread. Sizes must agree (asserted).
double SpearmanCorrelation(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_SIMILARITY_H_
