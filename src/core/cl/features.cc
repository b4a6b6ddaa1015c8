#include "src/core/cl/features.h"

#include <cassert>

namespace libra::cl {

LabeledFeatures SelectRows(const LabeledFeatures& set, const std::vector<int>& indices) {
  LabeledFeatures out;
  out.x.resize(static_cast<Eigen::Index>(indices.size()), set.x.cols());
  for (size_t i = 0; i < indices.size(); ++i) {
    out.x.row(static_cast<Eigen::Index>(i)) = set.x.row(indices[i]);
    out.y.push_back(set.y[indices[i]]);
  }
  return out;
}

LabeledFeatures Concatenate(const LabeledFeatures& a, const LabeledFeatures& b) {
  if (a.x.rows() == 0) return b;
  if (b.x.rows() == 0) return a;
  assert(a.x.cols() == b.x.cols());
  LabeledFeatures out;
  out.x.resize(a.x.rows() + b.x.rows(), a.x.cols());
  out.x << a.x, b.x;
  out.y = a.y;
  out.y.insert(out.y.end(), b.y.begin(), b.y.end());
  return out;
}

Features ConcatenateColumns(const Features& a, const Features& b) {
  assert(a.rows() == b.rows());
  Features out(a.rows(), a.cols() + b.cols());
  out << a, b;
  return out;
}

}  // namespace libra::cl
