#include "src/core/cluster/kmeans.h"

#include <cmath>
#include <limits>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace libra::cluster {
namespace {

// One restart's state, in double precision.
struct Run {
  std::vector<double> centroids;  // [k, d]
  std::vector<int> assignment;
  double inertia = 0.0;
  int iterations = 0;
};

double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double SquaredDistance(const double* a, const double* b, int64_t d) {
  double s0 = 0, s1 = 0;
  int64_t i = 0;
  for (; i + 2 <= d; i += 2) {
    const double x = a[i] - b[i], y = a[i + 1] - b[i + 1];
    s0 += x * x;
    s1 += y * y;
  }
  if (i < d) s0 += (a[i] - b[i]) * (a[i] - b[i]);
  return s0 + s1;
}

// k-means++ seeding.
std::vector<double> SeedCentres(const std::vector<double>& x, int64_t n, int64_t d, int k,
                                std::mt19937_64& rng) {
  std::vector<double> centres(k * d);
  std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
  int64_t chosen = std::min<int64_t>(n - 1, static_cast<int64_t>(Uniform01(rng) * n));
  for (int c = 0; c < k; ++c) {
    std::copy(x.begin() + chosen * d, x.begin() + (chosen + 1) * d, centres.begin() + c * d);
    if (c + 1 == k) break;
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      nearest[i] = std::min(nearest[i], SquaredDistance(&x[i * d], &centres[c * d], d));
      total += nearest[i];
    }
    if (total <= 0.0) {  // every point sits on a centre: any choice is as good
      chosen = std::min<int64_t>(n - 1, static_cast<int64_t>(Uniform01(rng) * n));
      continue;
    }
    const double target = Uniform01(rng) * total;
    double running = 0.0;
    chosen = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (nearest[i] <= 0.0) continue;
      running += nearest[i];
      chosen = i;
      if (running > target) break;
    }
  }
  return centres;
}

Run Lloyd(const std::vector<double>& x, int64_t n, int64_t d, int k, int max_iterations,
          std::vector<double> centres) {
  Run run;
  run.assignment.assign(n, -1);
  std::vector<double> distance(n);
  std::vector<int64_t> counts(k);
  for (int iteration = 1;; ++iteration) {
    bool changed = false;
    for (int64_t i = 0; i < n; ++i) {
      int best = 0;
      double best_distance = SquaredDistance(&x[i * d], &centres[0], d);
      for (int c = 1; c < k; ++c) {
        const double dist = SquaredDistance(&x[i * d], &centres[c * d], d);
        if (dist < best_distance) {
          best_distance = dist;
          best = c;
        }
      }
      distance[i] = best_distance;
      if (run.assignment[i] != best) changed = true;
      run.assignment[i] = best;
    }
    run.iterations = iteration;
    if (!changed || iteration >= max_iterations) break;
    std::fill(centres.begin(), centres.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int c = run.assignment[i];
      ++counts[c];
      for (int64_t j = 0; j < d; ++j) centres[c * d + j] += x[i * d + j];
    }
    for (int c = 0; c < k; ++c) {
      if (counts[c] > 0) {
        for (int64_t j = 0; j < d; ++j) centres[c * d + j] /= static_cast<double>(counts[c]);
        continue;
      }
      // Empty cluster: take the point farthest from its centre, from a
      // cluster that keeps at least one point.
      int64_t far = -1;
      for (int64_t i = 0; i < n; ++i) {
        if (counts[run.assignment[i]] > 1 && (far < 0 || distance[i] > distance[far])) far = i;
      }
      if (far < 0) continue;
      --counts[run.assignment[far]];
      counts[c] = 1;
      distance[far] = 0.0;
      std::copy(x.begin() + far * d, x.begin() + (far + 1) * d, centres.begin() + c * d);
    }
  }
  run.inertia = 0.0;
  for (int64_t i = 0; i < n; ++i) run.inertia += distance[i];
  run.centroids = std::move(centres);
  return run;
}

}  // namespace

absl::StatusOr<KMeansResult> KMeans(const Tensor& points, const KMeansOptions& options) {
  if (points.rank() != 2 || points.dim(0) < 1 || points.dim(1) < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("k-means: points must be [n, d] with n, d >= 1, got ",
                     ShapeToString(points.shape())));
  }
  const int64_t n = points.dim(0);
  const int64_t d = points.dim(1);
  const int k = options.k;
  if (k < 1 || k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("k-means: k must be in [1, ", n, "] (the number of points), got ", k));
  }
  if (options.restarts < 1 || options.max_iterations < 1) {
    return absl::InvalidArgumentError(absl::StrCat("k-means: restarts (", options.restarts,
                                                   ") and max_iterations (",
                                                   options.max_iterations, ") must be >= 1"));
  }
  std::vector<double> x(points.values().begin(), points.values().end());
  for (double v : x) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("k-means: points hold NaN or Inf");
  }
  std::mt19937_64 rng(options.seed);
  Run best;
  for (int restart = 0; restart < options.restarts; ++restart) {
    Run run = Lloyd(x, n, d, k, options.max_iterations, SeedCentres(x, n, d, k, rng));
    if (restart == 0 || run.inertia < best.inertia) best = std::move(run);
  }

  // Renumber labels by first appearance.
  std::vector<int> relabel(k, -1);
  int next = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (relabel[best.assignment[i]] < 0) relabel[best.assignment[i]] = next++;
  }
  for (int c = 0; c < k; ++c) {
    if (relabel[c] < 0) relabel[c] = next++;  // a centre with no points keeps a label
  }
  KMeansResult result;
  result.assignment.resize(n);
  for (int64_t i = 0; i < n; ++i) result.assignment[i] = relabel[best.assignment[i]];
  result.centroids = Tensor::Zeros({k, d});
  for (int c = 0; c < k; ++c) {
    for (int64_t j = 0; j < d; ++j) {
      result.centroids.at(relabel[c] * d + j) = static_cast<float>(best.centroids[c * d + j]);
    }
  }
  result.inertia = best.inertia;
  result.iterations = best.iterations;
  return result;
}

}  // namespace libra::cluster
