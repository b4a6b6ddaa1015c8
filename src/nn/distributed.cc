#include "src/nn/distributed.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <exception>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if defined(USE_C10D_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(USE_C10D_NCCL)
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace libra::nn {

// The three collectives the trainer needs, over whichever c10d process
// group was built. LibTorch 1.13's groups derive from c10d::ProcessGroup and
// 2.x's from c10d::Backend; holding the concrete type keeps to the methods
// both versions declare.
class DistributedContext::Collectives {
 public:
  virtual ~Collectives() = default;
  // Each call waits for its result; c10d errors arrive as exceptions.
  virtual void AllReduceSum(std::vector<at::Tensor>& tensors) = 0;
  virtual void Broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  virtual void Barrier() = 0;
};

namespace {

#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)
template <typename Group>
class GroupCollectives : public DistributedContext::Collectives {
 public:
  GroupCollectives(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group)
      : store_(std::move(store)), group_(std::move(group)) {}

  // One all-reduce per bucket, all in flight together, then one wait each.
  void AllReduceSum(std::vector<at::Tensor>& tensors) override {
    std::vector<c10::intrusive_ptr<c10d::Work>> pending;
    for (at::Tensor& tensor : tensors) {
      std::vector<at::Tensor> one = {tensor};
      c10d::AllreduceOptions options;
      options.reduceOp = c10d::ReduceOp::SUM;
      pending.push_back(group_->allreduce(one, options));
    }
    for (auto& work : pending) work->wait();
  }

  void Broadcast(std::vector<at::Tensor>& tensors, int root) override {
    std::vector<c10::intrusive_ptr<c10d::Work>> pending;
    for (at::Tensor& tensor : tensors) {
      std::vector<at::Tensor> one = {tensor};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      options.rootTensor = 0;
      pending.push_back(group_->broadcast(one, options));
    }
    for (auto& work : pending) work->wait();
  }

  void Barrier() override { group_->barrier()->wait(); }

 private:
  c10::intrusive_ptr<c10d::Store> store_;  // the group keeps using it
  c10::intrusive_ptr<Group> group_;
};

c10::intrusive_ptr<c10d::Store> MakeStore(const DistributedOptions& options) {
  if (options.master_port == 0) {
    return c10::make_intrusive<c10d::FileStore>(options.store_file, options.world_size);
  }
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(options.master_port);
  store_options.isServer = options.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(options.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = options.timeout;
  return c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
}
#endif

#if defined(USE_C10D_GLOO)
bool IsLoopback(const std::string& address) {
  return address == "localhost" || absl::StartsWith(address, "127.");
}

std::unique_ptr<DistributedContext::Collectives> MakeGloo(const DistributedOptions& options) {
  auto store = MakeStore(options);
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
  // On one machine Gloo binds to loopback only; across machines it binds to
  // GLOO_SOCKET_IFNAME's interface, or the address the hostname resolves to.
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (options.master_port == 0 || IsLoopback(options.master_addr)) {
    gloo_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else if (interface != nullptr && *interface != '\0') {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  } else {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  gloo_options->threads = 2;
  auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, options.rank,
                                                           options.world_size, gloo_options);
  return std::make_unique<GroupCollectives<c10d::ProcessGroupGloo>>(store, group);
}
#endif

#if defined(USE_C10D_NCCL)
std::unique_ptr<DistributedContext::Collectives> MakeNccl(const DistributedOptions& options) {
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(options.local_rank));
  auto store = MakeStore(options);
  auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
  nccl_options->timeout = options.timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, options.rank,
                                                           options.world_size, nccl_options);
  return std::make_unique<GroupCollectives<c10d::ProcessGroupNCCL>>(store, group);
}
#endif

absl::StatusOr<std::string> ChooseBackend(const DistributedOptions& options) {
#if defined(USE_C10D_NCCL)
  constexpr bool kHaveNccl = true;
#else
  constexpr bool kHaveNccl = false;
#endif
#if defined(USE_C10D_GLOO)
  constexpr bool kHaveGloo = true;
#else
  constexpr bool kHaveGloo = false;
#endif
  std::string backend = options.backend;
  if (backend == "auto") backend = options.device == "cuda" && kHaveNccl ? "nccl" : "gloo";
  if (backend != "gloo" && backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("distributed backend \"", options.backend, "\": expected auto, gloo or nccl"));
  }
  if (backend == "nccl" && !kHaveNccl) {
    return absl::FailedPreconditionError(
        "distributed backend nccl: this LibTorch was built without NCCL (USE_C10D_NCCL); use gloo");
  }
  if (backend == "gloo" && !kHaveGloo) {
    return absl::FailedPreconditionError(
        "distributed backend gloo: compiled without USE_C10D_GLOO (link "
        "//third_party/system:torch_distributed)");
  }
  return backend;
}

// A parameter's gradient, flattened into a bucket at `offset`.
struct Slot {
  at::Tensor target;
  int64_t offset = 0;
};

struct Bucket {
  at::ScalarType dtype;  // of the flat buffer
  std::vector<Slot> slots;
  int64_t numel = 0;
};

// Gloo reduces float, double and half; other floating types (bfloat16)
// travel as float, which holds them exactly.
at::ScalarType WireType(at::ScalarType type, const std::string& backend) {
  if (backend == "gloo" && type != at::kFloat && type != at::kDouble && type != at::kHalf) {
    return at::kFloat;
  }
  return type;
}

// Groups tensors by (device, wire dtype) in order, cutting a new bucket past
// `bucket_bytes`. Every rank sees the same model, so the same buckets.
std::vector<Bucket> MakeBuckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes,
                                const std::string& backend) {
  std::vector<Bucket> buckets;
  std::vector<size_t> open;  // index of the bucket being filled per (device, dtype)
  std::vector<std::pair<at::Device, at::ScalarType>> open_keys;
  for (const at::Tensor& tensor : tensors) {
    const at::ScalarType wire = WireType(tensor.scalar_type(), backend);
    const std::pair<at::Device, at::ScalarType> key = {tensor.device(), wire};
    size_t k = 0;
    while (k < open_keys.size() && open_keys[k] != key) ++k;
    const int64_t bytes = tensor.numel() * static_cast<int64_t>(c10::elementSize(wire));
    if (k == open_keys.size()) {
      open_keys.push_back(key);
      open.push_back(buckets.size());
      buckets.push_back(Bucket{wire, {}, 0});
    } else if (buckets[open[k]].numel > 0 &&
               (buckets[open[k]].numel * static_cast<int64_t>(c10::elementSize(wire)) + bytes) >
                   bucket_bytes) {
      open[k] = buckets.size();
      buckets.push_back(Bucket{wire, {}, 0});
    }
    Bucket& bucket = buckets[open[k]];
    bucket.slots.push_back(Slot{tensor, bucket.numel});
    bucket.numel += tensor.numel();
  }
  return buckets;
}

at::Tensor Flatten(const Bucket& bucket) {
  std::vector<at::Tensor> pieces;
  pieces.reserve(bucket.slots.size());
  for (const Slot& slot : bucket.slots) {
    pieces.push_back(slot.target.detach().reshape({-1}).to(bucket.dtype));
  }
  return at::cat(pieces);
}

void Unflatten(const at::Tensor& flat, const Bucket& bucket) {
  for (const Slot& slot : bucket.slots) {
    at::Tensor part = flat.narrow(0, slot.offset, slot.target.numel()).view(slot.target.sizes());
    slot.target.detach().copy_(part);
  }
}

absl::Status CheckDense(const at::Tensor& tensor, const char* what) {
  if (!tensor.defined()) return absl::InvalidArgumentError(absl::StrCat(what, ": undefined tensor"));
  if (tensor.is_sparse()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": sparse tensors are not supported"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> IntFromEnv(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  int value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name, "=\"", text, "\" is not an integer"));
  }
  return value;
}

std::string StringFromEnv(const char* name, const std::string& fallback) {
  const char* text = std::getenv(name);
  return text == nullptr || *text == '\0' ? fallback : std::string(text);
}

}  // namespace

absl::StatusOr<DistributedOptions> DistributedOptionsFromEnvironment() {
  DistributedOptions options;
  absl::StatusOr<int> value = IntFromEnv("WORLD_SIZE", 1);
  if (!value.ok()) return value.status();
  options.world_size = *value;
  if (!(value = IntFromEnv("RANK", 0)).ok()) return value.status();
  options.rank = *value;
  if (!(value = IntFromEnv("LOCAL_RANK", options.rank)).ok()) return value.status();
  options.local_rank = *value;
  if (!(value = IntFromEnv("MASTER_PORT", 0)).ok()) return value.status();
  options.master_port = *value;
  if (!(value = IntFromEnv("LIBRA_DIST_TIMEOUT_S", 300)).ok()) return value.status();
  options.timeout = std::chrono::seconds(*value);
  if (!(value = IntFromEnv("LIBRA_DIST_BUCKET_MB", 25)).ok()) return value.status();
  options.bucket_bytes = int64_t{*value} << 20;
  options.master_addr = StringFromEnv("MASTER_ADDR", options.master_addr);
  options.store_file = StringFromEnv("LIBRA_DIST_STORE_FILE", "");
  options.backend = StringFromEnv("LIBRA_DIST_BACKEND", options.backend);
  return options;
}

DistributedContext::DistributedContext(DistributedOptions options, std::string backend,
                                       std::unique_ptr<Collectives> collectives)
    : options_(std::move(options)),
      backend_(std::move(backend)),
      collectives_(std::move(collectives)) {}

DistributedContext::~DistributedContext() = default;

absl::StatusOr<std::unique_ptr<DistributedContext>> DistributedContext::Create(
    const DistributedOptions& options) {
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world size must be at least 1, got ", options.world_size));
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " is outside [0, ",
                                                   options.world_size, ")"));
  }
  if (options.bucket_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket size must be positive, got ", options.bucket_bytes, " bytes"));
  }
  if (options.timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout must be positive, got ", options.timeout.count(), " ms"));
  }
  if (options.world_size == 1) {
    return std::unique_ptr<DistributedContext>(new DistributedContext(options, "none", nullptr));
  }
  if (options.master_port < 0 || options.master_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("MASTER_PORT ", options.master_port, " is outside [1, 65535]"));
  }
  if (options.master_port == 0 && options.store_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "world size ", options.world_size,
        " needs a rendezvous: set MASTER_ADDR and MASTER_PORT, or LIBRA_DIST_STORE_FILE"));
  }
  absl::StatusOr<std::string> backend = ChooseBackend(options);
  if (!backend.ok()) return backend.status();
  std::unique_ptr<Collectives> collectives;
  const std::string where =
      options.master_port != 0 ? absl::StrCat(options.master_addr, ":", options.master_port)
                               : options.store_file;
  try {
#if defined(USE_C10D_NCCL)
    if (*backend == "nccl") collectives = MakeNccl(options);
#endif
#if defined(USE_C10D_GLOO)
    if (*backend == "gloo") collectives = MakeGloo(options);
#endif
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", options.rank, " of ", options.world_size,
                                               ": cannot join the ", *backend, " group at ", where,
                                               ": ", e.what()));
  }
  return std::unique_ptr<DistributedContext>(
      new DistributedContext(options, *backend, std::move(collectives)));
}

absl::StatusOr<std::unique_ptr<DistributedContext>> DistributedContext::FromEnvironment() {
  absl::StatusOr<DistributedOptions> options = DistributedOptionsFromEnvironment();
  if (!options.ok()) return options.status();
  return Create(*options);
}

absl::Status DistributedContext::BroadcastParameters(const std::vector<at::Tensor>& tensors,
                                                     int root) {
  if (root < 0 || root >= world_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast root ", root, " is outside [0, ", world_size(), ")"));
  }
  for (const at::Tensor& tensor : tensors) {
    absl::Status status = CheckDense(tensor, "broadcast");
    if (!status.ok()) return status;
  }
  if (!is_distributed()) return absl::OkStatus();
  std::vector<Bucket> buckets = MakeBuckets(tensors, options_.bucket_bytes, backend_);
  try {
    std::vector<at::Tensor> flats;
    for (const Bucket& bucket : buckets) flats.push_back(Flatten(bucket));
    collectives_->Broadcast(flats, root);
    for (size_t i = 0; i < buckets.size(); ++i) Unflatten(flats[i], buckets[i]);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("rank ", rank(), ": broadcast from rank ", root, " failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status DistributedContext::AllReduceGradients(const std::vector<at::Tensor>& parameters) {
  for (const at::Tensor& parameter : parameters) {
    absl::Status status = CheckDense(parameter, "all-reduce");
    if (!status.ok()) return status;
    if (parameter.requires_grad() && parameter.grad().defined()) {
      status = CheckDense(parameter.grad(), "all-reduce gradient");
      if (!status.ok()) return status;
    }
  }
  if (!is_distributed()) return absl::OkStatus();
  std::vector<at::Tensor> gradients;
  for (const at::Tensor& parameter : parameters) {
    if (!parameter.requires_grad()) continue;
    if (!parameter.grad().defined()) parameter.mutable_grad() = at::zeros_like(parameter);
    gradients.push_back(parameter.grad());
  }
  return AverageInPlace(gradients, "gradient all-reduce");
}

absl::Status DistributedContext::AllReduceMean(const std::vector<at::Tensor>& tensors) {
  for (const at::Tensor& tensor : tensors) {
    absl::Status status = CheckDense(tensor, "all-reduce");
    if (!status.ok()) return status;
  }
  if (!is_distributed()) return absl::OkStatus();
  return AverageInPlace(tensors, "all-reduce");
}

absl::Status DistributedContext::AverageInPlace(const std::vector<at::Tensor>& tensors,
                                                const char* what) {
  std::vector<Bucket> buckets = MakeBuckets(tensors, options_.bucket_bytes, backend_);
  try {
    std::vector<at::Tensor> flats;
    for (const Bucket& bucket : buckets) flats.push_back(Flatten(bucket));
    collectives_->AllReduceSum(flats);
    for (size_t i = 0; i < buckets.size(); ++i) {
      flats[i].div_(world_size());
      Unflatten(flats[i], buckets[i]);
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", rank(), ": ", what, " failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> DistributedContext::AverageOverRanks(double value) {
  if (!is_distributed()) return value;
  const at::Device device = backend_ == "nccl" ? at::Device(at::kCUDA, options_.local_rank)
                                              : at::Device(at::kCPU);
  std::vector<at::Tensor> one = {at::full({1}, value, at::TensorOptions(at::kDouble).device(device))};
  try {
    collectives_->AllReduceSum(one);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", rank(), ": all-reduce failed: ", e.what()));
  }
  return one[0].item<double>() / world_size();
}

absl::Status DistributedContext::Barrier() {
  if (!is_distributed()) return absl::OkStatus();
  try {
    collectives_->Barrier();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", rank(), ": barrier failed: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace libra::nn
