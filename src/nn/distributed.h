// Data-parallel training over torch.distributed's C++ c10d, without DDP.
//
// LibTorch's C++ API has no DistributedDataParallel, so the trainer does by
// hand what DDP does: make every rank start from rank 0's weights, and after
// each backward pass replace every gradient by its mean over the ranks.
// Each rank then takes the same optimizer step on the same weights; with
// the global batch split evenly and a mean loss per rank, the result equals
// one process training on the whole global batch.
//
//   LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<DistributedContext> dist,
//                          DistributedContext::FromEnvironment());
//   LIBRA_RETURN_IF_ERROR(dist->BroadcastParameters(model->parameters()));
//   for (each step) {
//     loss = LossOn(local_batch(dist->rank(), dist->world_size()));
//     loss.backward();
//     LIBRA_RETURN_IF_ERROR(dist->AllReduceGradients(model->parameters()));
//     optimizer.step();
//   }
//   if (dist->is_main()) SaveCheckpoint(...);  // one writer
//
// Collectives: c10d ProcessGroupGloo on CPU; ProcessGroupNCCL for CUDA
// tensors when the LibTorch build has it (compiled with USE_C10D_NCCL).
// Rendezvous: a TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT, or a
// FileStore on a shared file system (LIBRA_DIST_STORE_FILE) when no port is
// given. With world size 1 nothing is created and every call is a no-op.
//
// Every rank must call the collectives in the same order with the same
// tensor shapes (the same model), or they block until the timeout.
#ifndef LIBRA_NN_DISTRIBUTED_H_
#define LIBRA_NN_DISTRIBUTED_H_

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace libra::nn {

struct DistributedOptions {
  int rank = 0;
  int world_size = 1;
  // Rank on this machine: picks the CUDA device for NCCL.
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  // Used (as a c10d FileStore) when master_port is 0. Must not hold a
  // previous run's store: use a fresh path per run.
  std::string store_file;
  // "auto" (NCCL for CUDA when built with it, else Gloo), "gloo" or "nccl".
  std::string backend = "auto";
  // Device of the tensors to reduce: "cpu" or "cuda".
  std::string device = "cpu";
  // Rendezvous and per-collective limit; a rank that died is reported after
  // this long instead of blocking forever.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Gradients are flattened into buckets of about this many bytes, one
  // all-reduce each (PyTorch DDP's default bucket_cap_mb is 25).
  int64_t bucket_bytes = int64_t{25} << 20;
};

// Options from the environment, as torchrun and LaunchWorkers set it:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, plus
// LIBRA_DIST_STORE_FILE, LIBRA_DIST_BACKEND, LIBRA_DIST_TIMEOUT_S and
// LIBRA_DIST_BUCKET_MB. Unset WORLD_SIZE means one process (rank 0 of 1).
absl::StatusOr<DistributedOptions> DistributedOptionsFromEnvironment();

class DistributedContext {
 public:
  // Joins the group: blocks until all world_size ranks have arrived, or
  // fails after options.timeout.
  static absl::StatusOr<std::unique_ptr<DistributedContext>> Create(
      const DistributedOptions& options);
  static absl::StatusOr<std::unique_ptr<DistributedContext>> FromEnvironment();

  ~DistributedContext();
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  bool is_distributed() const { return options_.world_size > 1; }
  // Rank 0: the one rank that writes checkpoints, libraries and logs.
  bool is_main() const { return options_.rank == 0; }
  // "gloo", "nccl", or "none" for a single process.
  const std::string& backend() const { return backend_; }

  // Overwrites every tensor with rank `root`'s values (parameters and, if
  // the model has any, buffers), so all ranks start identical.
  absl::Status BroadcastParameters(const std::vector<at::Tensor>& tensors, int root = 0);

  // Replaces each gradient of the parameters that require grad by its mean
  // over the ranks. A parameter without a gradient on this rank counts as a
  // zero gradient (and gets one), so every rank issues the same collectives.
  absl::Status AllReduceGradients(const std::vector<at::Tensor>& parameters);

  // Replaces each tensor by its mean over the ranks, in place, bucketed like
  // AllReduceGradients. For code that holds the gradients rather than the
  // parameters, such as TrainOptions::after_backward:
  //
  //   options.after_backward = [&](std::vector<torch::Tensor>& grads) {
  //     return dist->AllReduceMean(grads);
  //   };
  absl::Status AllReduceMean(const std::vector<at::Tensor>& tensors);

  // Mean of `value` over the ranks (for logging a global loss).
  absl::StatusOr<double> AverageOverRanks(double value);

  absl::Status Barrier();

  // The process group behind the calls (defined in distributed.cc).
  class Collectives;

 private:
  DistributedContext(DistributedOptions options, std::string backend,
                     std::unique_ptr<Collectives> collectives);
  absl::Status AverageInPlace(const std::vector<at::Tensor>& tensors, const char* what);

  DistributedOptions options_;
  std::string backend_;
  std::unique_ptr<Collectives> collectives_;
};

}  // namespace libra::nn

#endif  // LIBRA_NN_DISTRIBUTED_H_
