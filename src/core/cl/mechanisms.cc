#include "src/core/cl/mechanisms.h"

#include <algorithm>
#include <cmath>

namespace libra::cl {
namespace {

// Logits ~ N(0, scale^2): scale 1.5 gives categoricals that are neither
// near-uniform nor near-deterministic at N = 10.
constexpr double kCategoricalScale = 1.5;

std::vector<double> Softmax(const double* logits, int n) {
  const double top = *std::max_element(logits, logits + n);
  std::vector<double> p(n);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += p[i] = std::exp(logits[i] - top);
  for (double& v : p) v /= sum;
  return p;
}

int SampleIndex(const std::vector<double>& p, std::mt19937_64& rng) {
  const double u = UniformDouble(rng);
  double cumulative = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    cumulative += p[i];
    if (u < cumulative) return static_cast<int>(i);
  }
  return static_cast<int>(p.size()) - 1;  // rounding at the top end
}

Table Transpose(const Table& t) {
  Table out(t.empty() ? 0 : t[0].size(), std::vector<double>(t.size()));
  for (size_t i = 0; i < t.size(); ++i) {
    for (size_t j = 0; j < t[i].size(); ++j) out[j][i] = t[i][j];
  }
  return out;
}

// The weights in the learner's own order: [conditioning value][other value].
Table OwnOrder(const LogitModel& m, const Table& weights) {
  return m.factorisation == Factorisation::kAntiCausal ? Transpose(weights) : weights;
}

double Sum(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s;
}

}  // namespace

Table MechanismSystem::Joint() const {
  Table joint(n(), std::vector<double>(n()));
  for (int a = 0; a < n(); ++a) {
    for (int b = 0; b < n(); ++b) joint[a][b] = p_a[a] * p_b_given_a[a][b];
  }
  return joint;
}

double UniformDouble(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

double StandardNormal(std::mt19937_64& rng) {
  const double u1 = 1.0 - UniformDouble(rng);  // in (0, 1]: log is finite
  const double u2 = UniformDouble(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::vector<double> RandomCategorical(int n, std::mt19937_64& rng) {
  std::vector<double> logits(n);
  for (double& z : logits) z = kCategoricalScale * StandardNormal(rng);
  return Softmax(logits.data(), n);
}

MechanismSystem RandomSystem(int n, std::mt19937_64& rng) {
  MechanismSystem s;
  s.p_a = RandomCategorical(n, rng);
  for (int a = 0; a < n; ++a) s.p_b_given_a.push_back(RandomCategorical(n, rng));
  return s;
}

MechanismSystem InterveneOnCause(const MechanismSystem& s, std::mt19937_64& rng) {
  MechanismSystem out = s;
  out.p_a = RandomCategorical(s.n(), rng);
  return out;
}

MechanismSystem ShiftMechanism(const MechanismSystem& s, int a, std::mt19937_64& rng) {
  MechanismSystem out = s;
  out.p_b_given_a[a] = RandomCategorical(s.n(), rng);
  return out;
}

MechanismSystem ShiftEffectMarginal(const MechanismSystem& s, std::mt19937_64& rng) {
  const Table a_given_b = ConditionalOfFirstGivenSecond(s.Joint());
  const std::vector<double> p_b = RandomCategorical(s.n(), rng);
  Table joint(s.n(), std::vector<double>(s.n()));
  for (int a = 0; a < s.n(); ++a) {
    for (int b = 0; b < s.n(); ++b) joint[a][b] = p_b[b] * a_given_b[b][a];
  }
  MechanismSystem out;
  for (const auto& row : joint) out.p_a.push_back(Sum(row));
  out.p_b_given_a = ConditionalOfSecondGivenFirst(joint);
  return out;
}

Table ConditionalOfSecondGivenFirst(const Table& joint) {
  Table out = joint;
  for (auto& row : out) {
    const double mass = Sum(row);
    for (double& v : row) v = mass > 0.0 ? v / mass : 1.0 / row.size();
  }
  return out;
}

Table ConditionalOfFirstGivenSecond(const Table& joint) {
  return ConditionalOfSecondGivenFirst(Transpose(joint));
}

Table SampleCounts(const MechanismSystem& s, int batch, std::mt19937_64& rng) {
  Table counts(s.n(), std::vector<double>(s.n(), 0.0));
  for (int i = 0; i < batch; ++i) {
    const int a = SampleIndex(s.p_a, rng);
    const int b = SampleIndex(s.p_b_given_a[a], rng);
    counts[a][b] += 1.0 / batch;
  }
  return counts;
}

std::string FactorisationName(Factorisation f) {
  switch (f) {
    case Factorisation::kCausal: return "causal";
    case Factorisation::kAntiCausal: return "anti_causal";
    case Factorisation::kJoint: return "monolithic";
  }
  return "unknown";
}

LogitModel UniformModel(Factorisation f, int n) {
  const int size = f == Factorisation::kJoint ? n * n : n + n * n;
  return LogitModel{f, n, std::vector<double>(size, 0.0)};
}

std::vector<ModuleRange> Modules(const LogitModel& m) {
  if (m.factorisation == Factorisation::kJoint) return {{0, m.n * m.n}};
  std::vector<ModuleRange> modules = {{0, m.n}};
  for (int v = 0; v < m.n; ++v) modules.push_back({m.n + v * m.n, m.n});
  return modules;
}

Table ModelJoint(const LogitModel& m) {
  const int n = m.n;
  Table q(n, std::vector<double>(n));
  if (m.factorisation == Factorisation::kJoint) {
    const std::vector<double> p = Softmax(m.params.data(), n * n);
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) q[a][b] = p[a * n + b];
    }
    return q;
  }
  // Own order: [conditioning value v][other value u].
  const std::vector<double> marginal = Softmax(m.params.data(), n);
  for (int v = 0; v < n; ++v) {
    const std::vector<double> row = Softmax(m.params.data() + n + v * n, n);
    for (int u = 0; u < n; ++u) q[v][u] = marginal[v] * row[u];
  }
  return m.factorisation == Factorisation::kAntiCausal ? Transpose(q) : q;
}

double CrossEntropy(const LogitModel& m, const Table& weights) {
  const Table q = ModelJoint(m);
  double loss = 0.0;
  for (int a = 0; a < m.n; ++a) {
    for (int b = 0; b < m.n; ++b) {
      if (weights[a][b] != 0.0) loss -= weights[a][b] * std::log(q[a][b]);
    }
  }
  return loss;
}

double Entropy(const Table& p) {
  double h = 0.0;
  for (const auto& row : p) {
    for (double v : row) {
      if (v > 0.0) h -= v * std::log(v);
    }
  }
  return h;
}

std::vector<double> Gradient(const LogitModel& m, const Table& weights) {
  const int n = m.n;
  std::vector<double> g(m.params.size(), 0.0);
  double total = 0.0;
  for (const auto& row : weights) total += Sum(row);
  if (m.factorisation == Factorisation::kJoint) {
    const std::vector<double> q = Softmax(m.params.data(), n * n);
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) g[a * n + b] = total * q[a * n + b] - weights[a][b];
    }
    return g;
  }
  const Table w = OwnOrder(m, weights);
  const std::vector<double> marginal = Softmax(m.params.data(), n);
  for (int v = 0; v < n; ++v) {
    const double w_v = Sum(w[v]);
    g[v] = total * marginal[v] - w_v;
    const std::vector<double> row = Softmax(m.params.data() + n + v * n, n);
    for (int u = 0; u < n; ++u) g[n + v * n + u] = w_v * row[u] - w[v][u];
  }
  return g;
}

void SgdStep(LogitModel& m, const Table& weights, double learning_rate) {
  const std::vector<double> g = Gradient(m, weights);
  for (size_t i = 0; i < g.size(); ++i) m.params[i] -= learning_rate * g[i];
}

double GradientShare(const std::vector<double>& gradient, const ModuleRange& module) {
  double inside = 0.0, all = 0.0;
  for (size_t i = 0; i < gradient.size(); ++i) {
    const double sq = gradient[i] * gradient[i];
    all += sq;
    const int index = static_cast<int>(i);
    if (index >= module.offset && index < module.offset + module.size) inside += sq;
  }
  return all > 0.0 ? inside / all : 0.0;
}

double FractionChanged(const std::vector<double>& before, const std::vector<double>& after,
                       double relative_tolerance) {
  double largest = 0.0;
  for (size_t i = 0; i < before.size(); ++i) {
    largest = std::max(largest, std::abs(after[i] - before[i]));
  }
  if (largest == 0.0) return 0.0;
  int changed = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (std::abs(after[i] - before[i]) > relative_tolerance * largest) ++changed;
  }
  return static_cast<double>(changed) / static_cast<double>(before.size());
}

double MeanTotalVariation(const Table& p, const Table& q) {
  double sum = 0.0;
  for (size_t a = 0; a < p.size(); ++a) {
    double tv = 0.0;
    for (size_t b = 0; b < p[a].size(); ++b) tv += std::abs(p[a][b] - q[a][b]);
    sum += 0.5 * tv;
  }
  return p.empty() ? 0.0 : sum / static_cast<double>(p.size());
}

}  // namespace libra::cl
