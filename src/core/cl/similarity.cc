#include "src/core/cl/similarity.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace libra::cl {

double LinearCka(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  assert(x.rows() == y.rows());
  const Eigen::MatrixXd xc = x.rowwise() - x.colwise().mean();
  const Eigen::MatrixXd yc = y.rowwise() - y.colwise().mean();
  const double xx = (xc.transpose() * xc).norm();
  const double yy = (yc.transpose() * yc).norm();
  if (xx == 0.0 || yy == 0.0) return 0.0;
  return (yc.transpose() * xc).squaredNorm() / (xx * yy);
}

Eigen::MatrixXd OneHot(const std::vector<int>& labels, int num_classes) {
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(labels.size()), num_classes);
  for (size_t i = 0; i < labels.size(); ++i) out(static_cast<Eigen::Index>(i), labels[i]) = 1.0;
  return out;
}

std::vector<double> Ranks(const std::vector<double>& values) {
  std::vector<int> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double average = (static_cast<double>(i + j) / 2.0) + 1.0;
    for (size_t t = i; t <= j; ++t) ranks[order[t]] = average;
    i = j + 1;
  }
  return ranks;
}

double SpearmanCorrelation(const std::vector<double>& a, const std::vector<double>& b) {
  assert(a.size() == b.size());
  const std::vector<double> ra = Ranks(a), rb = Ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0.0 || sbb == 0.0) return 0.0;
  return sab / std::sqrt(saa * sbb);
}

}  // namespace libra::cl
