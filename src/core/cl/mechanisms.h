// The sparse-mechanism-shift toy (Bengio et al. 2019, "A meta-transfer
// objective for learning to disentangle causal mechanisms"), the measurable
// form of paper (f)'s argument: a ground truth A -> B over N-valued
// variables, shifts of it, and three learners of the same joint as logit
// tables trained by SGD on the mean negative log-likelihood.
//
//   causal       q(a, b) = softmax(m)_a softmax(c_a)_b       P(A) P(B | A)
//   anti-causal  q(a, b) = softmax(m)_b softmax(c_b)_a       P(B) P(A | B)
//   monolithic   q(a, b) = softmax(j)_{a,b}                  one softmax, N^2 cells
//
// Parameters are one flat vector: the modular learners hold the marginal's
// N logits first (module 0), then the N conditional rows (module 1 + v for
// the row of conditioning value v); the monolithic learner holds the N^2
// joint logits row-major by a (one module).
//
// Every loss is a weighted cross-entropy L(W) = -sum_{a,b} W[a][b] log q(a,b)
// over a table of non-negative weights: a batch's counts divided by its size
// (the SGD loss) or the true joint (the population loss). Its gradient is
// analytic (softmax minus target, per module):
//   marginal logit v:        (sum W) softmax(m)_v - w_v       (w: W's marginal)
//   row v, cell u:           w_v softmax(c_v)_u - W_v[u]
//   monolithic cell (a, b):  (sum W) q(a, b) - W[a][b]
// with the indices read in the learner's own order (anti-causal: W transposed).
//
//   std::mt19937_64 rng(seed);
//   MechanismSystem truth = RandomSystem(10, rng);
//   LogitModel model = UniformModel(Factorisation::kCausal, 10);
//   Table counts = SampleCounts(truth, 256, rng);
//   SgdStep(model, counts, /*learning_rate=*/1.0);
//   double kl = CrossEntropy(model, truth.Joint()) - Entropy(truth.Joint());
//
// Randomness comes only from std::mt19937_64 through UniformDouble and
// StandardNormal below (std's distributions differ between libraries), so
// runs are identical on every platform.
#ifndef LIBRA_CORE_CL_MECHANISMS_H_
#define LIBRA_CORE_CL_MECHANISMS_H_

#include <random>
#include <string>
#include <vector>

namespace libra::cl {

// N x N, row-major by the first index.
using Table = std::vector<std::vector<double>>;

// The ground truth A -> B: P(A) and one row P(B | A = a) per value a.
struct MechanismSystem {
  std::vector<double> p_a;
  Table p_b_given_a;

  int n() const { return static_cast<int>(p_a.size()); }
  Table Joint() const;  // P(a, b) = P(a) P(b | a)
};

double UniformDouble(std::mt19937_64& rng);   // in [0, 1), 53 random bits
double StandardNormal(std::mt19937_64& rng);  // Box-Muller

// softmax(kCategoricalScale * z), z ~ N(0, I_n): a random categorical.
std::vector<double> RandomCategorical(int n, std::mt19937_64& rng);
MechanismSystem RandomSystem(int n, std::mt19937_64& rng);

// Shifts, each a new task of the continual sequence.
// An intervention on the cause: a fresh P(A), every P(B | A = a) kept.
MechanismSystem InterveneOnCause(const MechanismSystem& s, std::mt19937_64& rng);
// A sparse mechanism shift: a fresh P(B | A = a) for the one value a.
MechanismSystem ShiftMechanism(const MechanismSystem& s, int a, std::mt19937_64& rng);
// A label-side shift: a fresh P(B) with P(A | B) kept (the anti-causal
// factorisation's sparse shift; dense in the causal one).
MechanismSystem ShiftEffectMarginal(const MechanismSystem& s, std::mt19937_64& rng);

// P(A | B = b) of a joint, as rows by b; a row with no mass is uniform.
Table ConditionalOfFirstGivenSecond(const Table& joint);
// P(B | A = a) of a joint, as rows by a; a row with no mass is uniform.
Table ConditionalOfSecondGivenFirst(const Table& joint);

// A batch of `batch` samples (a, b) as a table of counts divided by `batch`.
Table SampleCounts(const MechanismSystem& s, int batch, std::mt19937_64& rng);

enum class Factorisation { kCausal, kAntiCausal, kJoint };
std::string FactorisationName(Factorisation f);  // "causal", "anti_causal", "monolithic"

struct LogitModel {
  Factorisation factorisation = Factorisation::kCausal;
  int n = 0;
  std::vector<double> params;
};

struct ModuleRange {
  int offset;
  int size;
};

// All logits 0: the uniform joint.
LogitModel UniformModel(Factorisation f, int n);
// Module 0 the marginal, 1 + v the row of v (modular); one module (monolithic).
std::vector<ModuleRange> Modules(const LogitModel& m);
// q(a, b), always indexed [a][b].
Table ModelJoint(const LogitModel& m);

double CrossEntropy(const LogitModel& m, const Table& weights);
double Entropy(const Table& p);
std::vector<double> Gradient(const LogitModel& m, const Table& weights);
void SgdStep(LogitModel& m, const Table& weights, double learning_rate);

// The share of ||g||^2 that falls in `module`: sum over it of g_i^2 / sum g_i^2
// (0 for a zero gradient).
double GradientShare(const std::vector<double>& gradient, const ModuleRange& module);
// The fraction of parameters i with |after_i - before_i| > relative_tolerance
// * max_j |after_j - before_j| (0 when nothing moved).
double FractionChanged(const std::vector<double>& before, const std::vector<double>& after,
                       double relative_tolerance);
// The mean over a of the total variation between two conditionals' rows.
double MeanTotalVariation(const Table& p, const Table& q);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_MECHANISMS_H_
