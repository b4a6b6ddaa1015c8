// Data parallel over c10d Gloo, checked against one process.
//
// Multi-process tests re-run this binary as 2 workers through LaunchWorkers
// (TCPStore on 127.0.0.1, a free port); the worker bodies are the
// DistributedWorker tests, which skip unless WORLD_SIZE is set. Workers save
// their weights; the launching test compares them with a single-process run
// it computes itself. The FileStore test runs two ranks as two threads.
#include "src/nn/distributed.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/nn/launcher.h"

namespace libra::nn {
namespace {

using ::testing::HasSubstr;

constexpr int kGlobalBatch = 8;
constexpr int kSteps = 5;
constexpr int64_t kInitSeed = 1000;
constexpr double kTolerance = 1e-5;

#define SKIP_IN_WORKER() \
  if (IsLaunchedWorker()) GTEST_SKIP() << "runs only in the launching process"

// A 2-layer MLP: Linear(4, 8) -> tanh -> Linear(8, 3).
struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(int64_t seed) {
    torch::manual_seed(seed);
    hidden = register_module("hidden", torch::nn::Linear(4, 8));
    out = register_module("out", torch::nn::Linear(8, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) { return out(torch::tanh(hidden(x))); }
  torch::nn::Linear hidden{nullptr}, out{nullptr};
};
TORCH_MODULE(Mlp);

struct Batch {
  torch::Tensor x, y;
};

Batch GlobalBatch() {
  torch::manual_seed(7);
  Batch batch;
  batch.x = torch::randn({kGlobalBatch, 4});
  batch.y = torch::randn({kGlobalBatch, 3});
  return batch;
}

// Rows [rank * B / N, (rank + 1) * B / N) of the global batch.
Batch Shard(const Batch& global, int rank, int world) {
  const int64_t rows = kGlobalBatch / world;
  return {global.x.narrow(0, rank * rows, rows), global.y.narrow(0, rank * rows, rows)};
}

std::vector<torch::Tensor> Snapshot(Mlp& model) {
  std::vector<torch::Tensor> weights;
  for (const torch::Tensor& p : model->parameters()) weights.push_back(p.detach().clone());
  return weights;
}

// Adam on the mean squared error; `dist` (when given) averages gradients.
absl::Status Train(Mlp& model, const Batch& batch, DistributedContext* dist) {
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.05));
  for (int step = 0; step < kSteps; ++step) {
    adam.zero_grad();
    torch::mse_loss(model->forward(batch.x), batch.y).backward();
    if (dist != nullptr) {
      absl::Status status = dist->AllReduceGradients(model->parameters());
      if (!status.ok()) return status;
    }
    adam.step();
  }
  return absl::OkStatus();
}

void ExpectClose(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].sizes(), want[i].sizes()) << what << " tensor " << i;
    const double diff = (got[i] - want[i]).abs().max().item<double>();
    EXPECT_LE(diff, kTolerance) << what << " tensor " << i;
  }
}

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/dist_" + name + "_" + std::to_string(getpid());
  mkdir(dir.c_str(), 0755);
  return dir;
}

absl::Status LaunchSelf(const std::string& worker_test, const std::string& dir) {
  LaunchOptions options;
  options.timeout = std::chrono::seconds(90);
  options.grace = std::chrono::milliseconds(500);
  options.env = {{"DIST_TEST_OUT", dir},
                 {"LIBRA_DIST_TIMEOUT_S", "30"},
                 // Workers rerun gtest: keep their reports off the parent's.
                 {"XML_OUTPUT_FILE", dir + "/worker.xml"},
                 {"TEST_PREMATURE_EXIT_FILE", ""}};
  std::string filter = "--gtest_filter=DistributedWorker." + worker_test;
  std::string name = "distributed_test";
  char* argv[] = {name.data(), filter.data()};
  return LaunchWorkers(2, argv, 2, options);
}

// --- worker bodies (inside LaunchWorkers) ---

TEST(DistributedWorker, BroadcastThenTrainOnShard) {
  if (!IsLaunchedWorker()) GTEST_SKIP() << "runs inside LaunchWorkers";
  torch::set_num_threads(1);
  absl::StatusOr<DistributedOptions> options = DistributedOptionsFromEnvironment();
  ASSERT_TRUE(options.ok()) << options.status();
  options->bucket_bytes = 100;  // several buckets for this 67-parameter model
  absl::StatusOr<std::unique_ptr<DistributedContext>> dist = DistributedContext::Create(*options);
  ASSERT_TRUE(dist.ok()) << dist.status();
  DistributedContext& ctx = **dist;
  EXPECT_EQ(ctx.backend(), "gloo");
  const std::string out = std::getenv("DIST_TEST_OUT");

  Mlp model(kInitSeed + ctx.rank());  // ranks start different on purpose
  ASSERT_TRUE(ctx.BroadcastParameters(model->parameters()).ok());
  torch::save(Snapshot(model), out + "/broadcast" + std::to_string(ctx.rank()) + ".pt");

  const Batch shard = Shard(GlobalBatch(), ctx.rank(), ctx.world_size());
  ASSERT_TRUE(Train(model, shard, &ctx).ok());
  torch::save(Snapshot(model), out + "/trained" + std::to_string(ctx.rank()) + ".pt");

  absl::StatusOr<double> mean = ctx.AverageOverRanks(ctx.rank() + 1.0);
  ASSERT_TRUE(mean.ok()) << mean.status();
  torch::save(std::vector<torch::Tensor>{torch::tensor({*mean}, torch::kDouble)},
              out + "/mean" + std::to_string(ctx.rank()) + ".pt");
  ASSERT_TRUE(ctx.Barrier().ok());
}

TEST(DistributedWorker, RankOneDiesBeforeJoining) {
  if (!IsLaunchedWorker()) GTEST_SKIP() << "runs inside LaunchWorkers";
  if (std::string(std::getenv("RANK")) == "1") std::_Exit(3);
  // Rank 0 waits in the rendezvous for a rank that never comes, until the
  // launcher stops it.
  absl::StatusOr<std::unique_ptr<DistributedContext>> dist = DistributedContext::FromEnvironment();
  ADD_FAILURE() << "rank 0 got past the rendezvous: " << dist.status();
}

// --- launching tests ---

std::vector<torch::Tensor> Load(const std::string& path) {
  std::vector<torch::Tensor> tensors;
  torch::load(tensors, path);
  return tensors;
}

TEST(DataParallel, TwoRanksMatchOneRankOnTheSameGlobalBatch) {
  SKIP_IN_WORKER();
  torch::set_num_threads(1);
  const std::string dir = FreshDir("train");
  const absl::Status launched = LaunchSelf("BroadcastThenTrainOnShard", dir);
  ASSERT_TRUE(launched.ok()) << launched;

  Mlp reference(kInitSeed);
  const std::vector<torch::Tensor> initial = Snapshot(reference);
  ASSERT_TRUE(Train(reference, GlobalBatch(), nullptr).ok());
  const std::vector<torch::Tensor> trained = Snapshot(reference);

  // Broadcast: rank 1 started from seed 1001, which differs from rank 0's.
  Mlp other(kInitSeed + 1);
  EXPECT_GT((Snapshot(other)[0] - initial[0]).abs().max().item<double>(), 1e-3);
  ExpectClose(Load(dir + "/broadcast0.pt"), initial, "rank 0 after broadcast");
  ExpectClose(Load(dir + "/broadcast1.pt"), initial, "rank 1 after broadcast");

  // Training: each rank saw half of the batch; the weights moved, and match.
  EXPECT_GT((trained[0] - initial[0]).abs().max().item<double>(), 1e-2);
  ExpectClose(Load(dir + "/trained0.pt"), trained, "rank 0 after training");
  ExpectClose(Load(dir + "/trained1.pt"), trained, "rank 1 after training");

  // AverageOverRanks: mean of 1 and 2.
  EXPECT_DOUBLE_EQ(Load(dir + "/mean0.pt")[0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(Load(dir + "/mean1.pt")[0].item<double>(), 1.5);
}

TEST(DataParallel, AFailingRankFailsTheLaunch) {
  SKIP_IN_WORKER();
  const absl::Status launched = LaunchSelf("RankOneDiesBeforeJoining", FreshDir("fail"));
  EXPECT_EQ(launched.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(launched.message(), HasSubstr("rank 1 exited with status 3"));
}

// Two ranks as two threads of this process, meeting through a FileStore.
TEST(DataParallel, FileStoreAllReduceAveragesGradientsPerDtype) {
  SKIP_IN_WORKER();
  const std::string store = FreshDir("store") + "/store";
  // Per rank: a float and a double parameter with gradients, a float one
  // whose gradient only rank 1 has, and a frozen one.
  auto make_params = [](int rank) {
    const double r = rank + 1;
    std::vector<torch::Tensor> params = {
        torch::zeros({2, 3}, torch::kFloat).requires_grad_(),
        torch::zeros({5}, torch::kDouble).requires_grad_(),
        torch::zeros({4}, torch::kFloat).requires_grad_(),
        torch::zeros({3}, torch::kFloat),
    };
    params[0].mutable_grad() = torch::arange(6, torch::kFloat).reshape({2, 3}) * r;
    params[1].mutable_grad() = torch::full({5}, 10.0 * r, torch::kDouble);
    if (rank == 1) params[2].mutable_grad() = torch::full({4}, 8.0f);
    return params;
  };
  std::vector<torch::Tensor> params[2] = {make_params(0), make_params(1)};
  std::vector<torch::Tensor> plain[2] = {{torch::full({3}, 1.0)}, {torch::full({3}, 4.0)}};
  absl::Status results[2];
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    ranks.emplace_back([&, rank] {
      DistributedOptions options;
      options.rank = rank;
      options.world_size = 2;
      options.store_file = store;
      options.bucket_bytes = 16;  // one bucket per tensor
      options.timeout = std::chrono::seconds(30);
      absl::StatusOr<std::unique_ptr<DistributedContext>> dist =
          DistributedContext::Create(options);
      if (!dist.ok()) {
        results[rank] = dist.status();
        return;
      }
      results[rank] = (*dist)->AllReduceGradients(params[rank]);
      if (results[rank].ok()) results[rank] = (*dist)->AllReduceMean(plain[rank]);
    });
  }
  for (std::thread& t : ranks) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0];
  ASSERT_TRUE(results[1].ok()) << results[1];
  for (int rank = 0; rank < 2; ++rank) {
    // mean of r * arange over r = 1, 2 is 1.5 * arange; mean of 10 and 20
    // is 15; mean of (missing = 0) and 8 is 4.
    EXPECT_TRUE(params[rank][0].grad().allclose(torch::arange(6, torch::kFloat).reshape({2, 3}) * 1.5));
    EXPECT_TRUE(params[rank][1].grad().allclose(torch::full({5}, 15.0, torch::kDouble)));
    EXPECT_EQ(params[rank][1].grad().scalar_type(), torch::kDouble);
    ASSERT_TRUE(params[rank][2].grad().defined());
    EXPECT_TRUE(params[rank][2].grad().allclose(torch::full({4}, 4.0f)));
    EXPECT_FALSE(params[rank][3].grad().defined());
    EXPECT_TRUE(plain[rank][0].allclose(torch::full({3}, 2.5)));
  }
}

TEST(DistributedContext, OneProcessIsANoOp) {
  SKIP_IN_WORKER();
  absl::StatusOr<std::unique_ptr<DistributedContext>> dist =
      DistributedContext::Create(DistributedOptions{});
  ASSERT_TRUE(dist.ok()) << dist.status();
  EXPECT_EQ((*dist)->backend(), "none");
  EXPECT_TRUE((*dist)->is_main());
  EXPECT_FALSE((*dist)->is_distributed());
  torch::Tensor p = torch::ones({3}).requires_grad_();
  p.mutable_grad() = torch::full({3}, 2.0f);
  torch::Tensor no_grad_yet = torch::ones({2}).requires_grad_();
  ASSERT_TRUE((*dist)->AllReduceGradients({p, no_grad_yet}).ok());
  EXPECT_TRUE(p.grad().equal(torch::full({3}, 2.0f)));
  EXPECT_FALSE(no_grad_yet.grad().defined());
  ASSERT_TRUE((*dist)->BroadcastParameters({p}).ok());
  const absl::Status undefined = (*dist)->AllReduceMean({torch::Tensor()});
  EXPECT_EQ(undefined.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(undefined.message(), HasSubstr("all-reduce: undefined tensor"));
  EXPECT_EQ((*dist)->AverageOverRanks(3.5).value(), 3.5);
  EXPECT_TRUE((*dist)->Barrier().ok());
}

TEST(DistributedContext, RejectsBadOptions) {
  SKIP_IN_WORKER();
  DistributedOptions options;
  options.world_size = 2;
  options.rank = 2;
  auto dist = DistributedContext::Create(options);
  EXPECT_EQ(dist.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dist.status().message(), HasSubstr("rank 2 is outside [0, 2)"));

  options.rank = 1;
  dist = DistributedContext::Create(options);
  EXPECT_THAT(dist.status().message(),
              HasSubstr("needs a rendezvous: set MASTER_ADDR and MASTER_PORT"));

  options.master_port = 70000;
  dist = DistributedContext::Create(options);
  EXPECT_THAT(dist.status().message(), HasSubstr("MASTER_PORT 70000 is outside"));

  options.master_port = 29500;
  options.backend = "mpi";
  dist = DistributedContext::Create(options);
  EXPECT_EQ(dist.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dist.status().message(), HasSubstr("\"mpi\": expected auto, gloo or nccl"));

#if !defined(USE_C10D_NCCL)
  options.backend = "nccl";
  dist = DistributedContext::Create(options);
  EXPECT_EQ(dist.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(dist.status().message(), HasSubstr("built without NCCL"));
#endif

  options = DistributedOptions{};
  options.world_size = 0;
  EXPECT_THAT(DistributedContext::Create(options).status().message(),
              HasSubstr("world size must be at least 1, got 0"));
}

TEST(DistributedContext, ReadsTorchrunVariables) {
  SKIP_IN_WORKER();
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "3", 1);
  setenv("MASTER_ADDR", "10.0.0.2", 1);
  setenv("MASTER_PORT", "29400", 1);
  absl::StatusOr<DistributedOptions> options = DistributedOptionsFromEnvironment();
  setenv("RANK", "three", 1);
  absl::StatusOr<DistributedOptions> bad = DistributedOptionsFromEnvironment();
  for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
  absl::StatusOr<DistributedOptions> unset = DistributedOptionsFromEnvironment();

  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->world_size, 4);
  EXPECT_EQ(options->rank, 3);
  EXPECT_EQ(options->local_rank, 3);
  EXPECT_EQ(options->master_addr, "10.0.0.2");
  EXPECT_EQ(options->master_port, 29400);
  EXPECT_EQ(options->bucket_bytes, int64_t{25} << 20);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("RANK=\"three\" is not an integer"));
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(unset->world_size, 1);
  EXPECT_EQ(unset->rank, 0);
}

}  // namespace
}  // namespace libra::nn
