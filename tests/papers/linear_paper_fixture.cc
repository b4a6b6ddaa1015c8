// A fast closed-form "paper" for the framework's end-to-end test
// (all_test.cc): it asks the testbed's five questions of linear tasks and
// runs in about a second, so //papers:all can be tested without training a
// language model. It reproduces nothing; the real testbed is
// papers/testbed/testbed.cc.
//
//   y = W_t x + noise,   W_t = M_f + kTaskSpread * U_t      (task t in family f)
//   x = [c_t + kInstructionNoise * e ; z]                   (instruction part, content part)
//   base:   W_0 = mean_f M_f + G                            (generic, knows no task)
//   expert: W_0 + D_t, D_t = ridge(X_t, Y_t - W_0 X_t)      (closed form)
//   merge:  W_0 + mean_{t in S} D_t                         (uniform merge of experts)
//   score:  1 - |Y - W X|^2 / |Y - mean Y|^2                (R^2 on test inputs)
//   probe:  linear discriminant on x, task label            (accuracy on test inputs)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "papers/common/progress.h"
#include "papers/common/reproduce.h"

namespace libra::papers::linear_fixture {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Sizes and constants of the fixture (quick and full scale differ in counts only).
constexpr int kFamilies = 4;
constexpr int kHeldInPerFamily = 6;   // 24 held-in tasks, as the synthetic suite
constexpr int kHeldOutPerFamily = 3;  // 12 held-out tasks
constexpr int kInstructionDims = 16;  // 8 left some of 36 random codes confusable (probe 0.86)
constexpr int kContentDims = 24;
constexpr int kOutputDims = 12;
constexpr double kTaskSpread = 0.45;       // task-specific part relative to the family part
constexpr double kInstructionNoise = 0.6;  // paraphrase noise on the instruction part
constexpr double kTargetNoise = 0.05;
constexpr double kRidge = 1e-2;

// splitmix64 + Box-Muller: the same numbers on every platform and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }
  double Normal() {
    double u = std::max(Uniform(), 1e-300);
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * Uniform());
  }
  MatrixXd Gaussian(int rows, int cols, double scale) {
    MatrixXd m(rows, cols);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) m(i, j) = scale * Normal();
    return m;
  }

 private:
  uint64_t state_;
};

struct Task {
  int family;
  bool held_out;
  MatrixXd w;            // [out, in]
  VectorXd instruction;  // c_t
};

struct Split {
  MatrixXd x;  // [in, n]
  MatrixXd y;  // [out, n]
};

constexpr int kInputDims = kInstructionDims + kContentDims;

Split Sample(const Task& t, int n, Rng& rng) {
  Split s{MatrixXd(kInputDims, n), MatrixXd()};
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < kInstructionDims; ++d) {
      s.x(d, i) = t.instruction(d) + kInstructionNoise * rng.Normal();
    }
    for (int d = 0; d < kContentDims; ++d) s.x(kInstructionDims + d, i) = rng.Normal();
  }
  s.y = t.w * s.x + rng.Gaussian(kOutputDims, n, kTargetNoise);
  return s;
}

// R^2 of predictions W x on a split.
double Score(const MatrixXd& w, const Split& s) {
  MatrixXd centered = s.y.colwise() - s.y.rowwise().mean();
  return 1.0 - (s.y - w * s.x).squaredNorm() / centered.squaredNorm();
}

// The expert's correction: ridge regression of the base's residual on x.
MatrixXd TrainExpert(const MatrixXd& base, const Split& train) {
  MatrixXd residual = train.y - base * train.x;
  MatrixXd gram = train.x * train.x.transpose();
  gram.diagonal().array() += kRidge * train.x.cols();
  return gram.ldlt().solve(train.x * residual.transpose()).transpose();
}

MatrixXd Mean(const std::vector<const MatrixXd*>& ds) {
  MatrixXd m = MatrixXd::Zero(kOutputDims, kInputDims);
  for (const MatrixXd* d : ds) m += *d;
  return m / static_cast<double>(ds.size());
}

double Cosine(const MatrixXd& a, const MatrixXd& b) {
  return (a.array() * b.array()).sum() / (a.norm() * b.norm());
}

absl::Status RunTestbed(const RunContext& ctx, Results& results) {
  const int train_n = ctx.quick() ? 64 : 512;
  const int test_n = ctx.quick() ? 64 : 256;
  results.SetConfig(nlohmann::json{{"stand_in", true},
                                   {"families", kFamilies},
                                   {"held_in_per_family", kHeldInPerFamily},
                                   {"held_out_per_family", kHeldOutPerFamily},
                                   {"instruction_dims", kInstructionDims},
                                   {"content_dims", kContentDims},
                                   {"output_dims", kOutputDims},
                                   {"task_spread", kTaskSpread},
                                   {"instruction_noise", kInstructionNoise},
                                   {"target_noise", kTargetNoise},
                                   {"ridge", kRidge},
                                   {"train_per_task", train_n},
                                   {"test_per_task", test_n}});
  results.SetSetup(
      "**Framework fixture, not a reproduction.** A "
      "closed-form analogue of the same five questions: each task is a linear map "
      "W_t = M_family + 0.45 U_t on inputs x = [instruction code + paraphrase noise; content]; "
      "the base model is a generic map (the mean of the family maps plus noise), an expert is "
      "the ridge-regression correction of the base on 64 examples of one task, a merge averages "
      "experts' corrections, the score is R² on held-out inputs of the task, and the task probe "
      "is a linear discriminant (class means, pooled covariance) on x. 4 families, 24 held-in and 12 held-out tasks. "
      "These numbers say nothing about LLMs; they exercise the framework end to end.");

  const int total = static_cast<int>(ctx.seeds.size());
  Progress progress("testbed", total);
  std::vector<double> curve_sizes;
  for (int k = 1; k <= kHeldInPerFamily; ++k) curve_sizes.push_back(k);
  nlohmann::json similarity;
  std::vector<std::string> task_labels;

  for (int seed : ctx.seeds) {
    Rng rng(static_cast<uint64_t>(seed));
    std::vector<MatrixXd> family(kFamilies);
    MatrixXd generic = MatrixXd::Zero(kOutputDims, kInputDims);
    for (auto& m : family) {
      m = rng.Gaussian(kOutputDims, kInputDims, 1.0 / std::sqrt(kInputDims));
      generic += m / kFamilies;
    }
    MatrixXd base = generic + rng.Gaussian(kOutputDims, kInputDims, 0.3 / std::sqrt(kInputDims));
    std::vector<Task> tasks;
    for (int f = 0; f < kFamilies; ++f) {
      for (int i = 0; i < kHeldInPerFamily + kHeldOutPerFamily; ++i) {
        Task t{f, i >= kHeldInPerFamily,
               family[f] + rng.Gaussian(kOutputDims, kInputDims, kTaskSpread / std::sqrt(kInputDims)),
               VectorXd(kInstructionDims)};
        for (int d = 0; d < kInstructionDims; ++d) t.instruction(d) = rng.Normal();
        tasks.push_back(std::move(t));
      }
    }
    std::vector<Split> train, test;
    for (const Task& t : tasks) {
      train.push_back(Sample(t, train_n, rng));
      test.push_back(Sample(t, test_n, rng));
    }

    // Fact 1 and 2: the base on every task; each held-in expert on its own task.
    std::vector<MatrixXd> expert(tasks.size());
    double base_in = 0, base_out = 0, base_max = -1e9, own = 0, own_min = 1e9;
    int n_in = 0, n_out = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      double b = Score(base, test[i]);
      base_max = std::max(base_max, b);
      if (tasks[i].held_out) {
        base_out += b;
        ++n_out;
        continue;
      }
      base_in += b;
      ++n_in;
      expert[i] = TrainExpert(base, train[i]);
      double e = Score(base + expert[i], test[i]);
      own += e;
      own_min = std::min(own_min, e);
    }
    results.AddValue("base/held_in", seed, base_in / n_in);
    results.AddValue("base/held_out", seed, base_out / n_out);
    results.AddValue("base/best_task", seed, base_max);
    results.AddValue("expert/own_task", seed, own / n_in);
    results.AddValue("expert/own_task_worst", seed, own_min);

    // Fact 3 and 4: held-out tasks with merges of unrelated (other families')
    // and related (own family's) experts; and the merge size curve.
    double unrelated = 0, related = 0;
    std::vector<double> curve(kHeldInPerFamily, 0.0);
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (!tasks[i].held_out) continue;
      std::vector<const MatrixXd*> rel, unrel;
      for (size_t j = 0; j < tasks.size(); ++j) {
        if (tasks[j].held_out) continue;
        (tasks[j].family == tasks[i].family ? rel : unrel).push_back(&expert[j]);
      }
      unrelated += Score(base + Mean(unrel), test[i]);
      related += Score(base + Mean(rel), test[i]);
      for (int k = 1; k <= kHeldInPerFamily; ++k) {
        curve[k - 1] += Score(base + Mean({rel.begin(), rel.begin() + k}), test[i]);
      }
    }
    results.AddValue("held_out/unrelated_merge", seed, unrelated / n_out);
    results.AddValue("held_out/related_merge", seed, related / n_out);
    for (int k = 1; k <= kHeldInPerFamily; ++k) {
      results.AddValue(absl::StrCat("held_out/related_merge_k", k), seed, curve[k - 1] / n_out);
    }

    // Fact 5: the task is linearly decodable from the "hidden state" x: a
    // linear discriminant probe (class means, pooled within-class
    // covariance) over all 36 tasks, fitted on train inputs, scored on test.
    std::vector<VectorXd> centroid;
    MatrixXd pooled = MatrixXd::Zero(kInputDims, kInputDims);
    int pooled_n = 0;
    for (const Split& s : train) {
      centroid.push_back(s.x.rowwise().mean());
      MatrixXd centered = s.x.colwise() - centroid.back();
      pooled += centered * centered.transpose();
      pooled_n += static_cast<int>(s.x.cols()) - 1;
    }
    pooled /= pooled_n;
    pooled.diagonal().array() += kRidge;
    Eigen::LDLT<MatrixXd> whiten(pooled);
    int correct = 0, seen = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      for (int c = 0; c < test[i].x.cols(); ++c) {
        size_t best = 0;
        double best_d = 1e300;
        for (size_t j = 0; j < centroid.size(); ++j) {
          VectorXd diff = test[i].x.col(c) - centroid[j];
          double d = diff.dot(whiten.solve(diff));  // Mahalanobis: linear in x after expansion
          if (d < best_d) best_d = d, best = j;
        }
        correct += best == i;
        ++seen;
      }
    }
    results.AddValue("probe/task_accuracy", seed, static_cast<double>(correct) / seen);

    if (seed == ctx.seeds.front()) {
      for (size_t i = 0; i < tasks.size(); ++i) {
        if (tasks[i].held_out) continue;
        task_labels.push_back(absl::StrFormat("f%d.t%d", tasks[i].family, i % 9));
        std::vector<double> row;
        for (size_t j = 0; j < tasks.size(); ++j) {
          if (!tasks[j].held_out) row.push_back(Cosine(expert[i], expert[j]));
        }
        similarity.push_back(row);
      }
    }
    progress.Advance(absl::StrCat("seed ", seed));
  }
  progress.Finish();

  results.DescribeMetric("base/held_in", "base model R², mean over the 24 held-in tasks");
  results.DescribeMetric("base/held_out", "base model R², mean over the 12 held-out tasks");
  results.DescribeMetric("base/best_task", "base model R² on its best task (all 36)");
  results.DescribeMetric("expert/own_task", "each held-in expert on its own task, mean R²");
  results.DescribeMetric("expert/own_task_worst", "the worst held-in expert on its own task");
  results.DescribeMetric("held_out/unrelated_merge",
                         "held-out tasks, uniform merge of the other families' experts");
  results.DescribeMetric("held_out/related_merge",
                         "held-out tasks, uniform merge of the own family's experts");
  results.DescribeMetric("probe/task_accuracy",
                         "linear discriminant probe on the input, task identity (36 classes)");

  auto add = [&](const std::string& id, const std::string& statement, Quantity a, Quantity b,
                 Direction d, double margin) {
    results.AddClaim(Claim{id, statement, std::move(a), std::move(b), d, margin});
  };
  add("base_poor", "The base model alone is poor at every task (best task R² below 0.5).",
      Quantity::Metric("base/best_task"), Quantity::Constant(0.5), Direction::kLess, 0.0);
  add("expert_good", "One expert trained on a task is good at it (worst own-task R² above 0.9).",
      Quantity::Metric("expert/own_task_worst"), Quantity::Constant(0.9), Direction::kGreater,
      0.0);
  add("unrelated_no_help",
      "Experts of unrelated tasks do not help on held-out tasks (at most base + 0.05).",
      Quantity::Metric("held_out/unrelated_merge"), Quantity::Metric("base/held_out"),
      Direction::kAtMost, 0.05);
  add("related_help", "Experts of related tasks help on held-out tasks (by more than 0.1 R²).",
      Quantity::Metric("held_out/related_merge"), Quantity::Metric("base/held_out"),
      Direction::kGreater, 0.1);
  add("task_decodable",
      "The task is linearly decodable from the hidden state (probe accuracy above 0.9).",
      Quantity::Metric("probe/task_accuracy"), Quantity::Constant(0.9), Direction::kGreater, 0.0);

  std::vector<std::string> curve_metrics;
  for (int k = 1; k <= kHeldInPerFamily; ++k) {
    curve_metrics.push_back(absl::StrCat("held_out/related_merge_k", k));
  }
  results.AddPlot({{"id", "facts"},
                   {"kind", "bar"},
                   {"title", "Linear fixture facts, mean ± std over seeds"},
                   {"ylabel", "R² on test inputs"},
                   {"categories", {"held-in", "held-out"}},
                   {"series",
                    {{{"label", "base"}, {"metrics", {"base/held_in", "base/held_out"}}},
                     {{"label", "own expert"}, {"metrics", {"expert/own_task", nullptr}}},
                     {{"label", "merge of unrelated experts"},
                      {"metrics", {nullptr, "held_out/unrelated_merge"}}},
                     {{"label", "merge of related experts"},
                      {"metrics", {nullptr, "held_out/related_merge"}}}}}});
  results.AddPlot({{"id", "related_merge_size"},
                   {"kind", "line"},
                   {"title", "Held-out R² against the number of related experts merged"},
                   {"xlabel", "related experts merged"},
                   {"ylabel", "R²"},
                   {"x", curve_sizes},
                   {"series", {{{"label", "related merge"}, {"metrics", curve_metrics}}}}});
  results.AddPlot({{"id", "expert_similarity"},
                   {"kind", "heatmap"},
                   {"title", "Cosine similarity of held-in experts (seed 1)"},
                   {"matrix", similarity},
                   {"row_labels", task_labels},
                   {"col_labels", task_labels},
                   {"vmin", -1},
                   {"vmax", 1},
                   {"cmap", "RdBu_r"}});
  results.AddNote(
      "Stand-in: switch to the LLM testbed (LoRA experts on the synthetic suite) when the "
      "training core lands; the claims stay the same five facts.");
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::linear_fixture

int main(int argc, char** argv) {
  return libra::papers::ReproduceMain(
      argc, argv,
      {"linear_fixture", "Framework fixture (closed-form linear tasks)", &libra::papers::linear_fixture::RunTestbed});
}
