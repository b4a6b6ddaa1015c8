// GPU smoke test of the training core: one LoRA training step of the same
// tiny Llama model on CPU and on CUDA from identical weights and data; the
// losses must agree to 1e-3. Prints the loss of each device and the median
// CUDA step time (float32, then bf16 matmuls).
//
//   gpu_smoke [--device cuda] [--steps 20]
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "src/nn/adapters.h"
#include "src/nn/model.h"
#include "src/nn/trainer.h"

namespace {

using libra::nn::CausalLM;

libra::nn::ModelConfig Config() {
  libra::nn::ModelConfig c;
  c.vocab_size = 512;
  c.hidden_size = 256;
  c.intermediate_size = 688;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  return c;
}

CausalLM Build(torch::Device device) {
  torch::manual_seed(1);
  CausalLM model(Config());
  libra::nn::AdapterConfig adapter;
  adapter.lora.rank = 8;
  adapter.targets.names = {"q_proj", "v_proj"};
  (void)libra::nn::AttachAdapters(*model, adapter, 2);
  {
    torch::NoGradGuard no_grad;  // non-zero B so the step exercises every path
    for (auto& p : libra::nn::TrainableParameters(*model)) p.second.normal_(0, 0.05);
  }
  model->to(device);
  return model;
}

std::vector<libra::nn::TokenizedExample> Data() {
  std::vector<libra::nn::TokenizedExample> data;
  torch::manual_seed(3);
  torch::Tensor ids = torch::randint(0, 512, {16, 128});
  for (int64_t i = 0; i < 16; ++i) {
    libra::nn::TokenizedExample ex;
    ex.ids.assign(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + 128);
    ex.target_start = 1;
    data.push_back(ex);
  }
  return data;
}

double StepLoss(torch::Device device, torch::Dtype dtype, int steps, double* median_ms) {
  CausalLM model = Build(device);
  model->SetComputeDtype(dtype);
  auto data = Data();
  libra::nn::TrainOptions options;
  options.device = device;
  options.batch_size = 16;
  options.max_steps = 1;
  options.progress = false;
  options.learning_rate = 1e-3;
  std::vector<int64_t> all(16);
  for (int i = 0; i < 16; ++i) all[i] = i;
  // The loss after one optimizer step from identical weights and data.
  if (auto first = libra::nn::Train(*model, data, options); !first.ok()) {
    std::fprintf(stderr, "gpu_smoke: %s\n", std::string(first.status().message()).c_str());
    std::exit(1);
  }
  double loss;
  {
    torch::NoGradGuard no_grad;
    loss = libra::nn::TargetLoss(*model, data, all, device).item<double>();
  }
  std::vector<double> times;
  for (int s = 0; s < steps; ++s) {
    if (device.is_cuda()) torch::cuda::synchronize();
    auto start = std::chrono::steady_clock::now();
    auto stats = libra::nn::Train(*model, data, options);
    if (device.is_cuda()) torch::cuda::synchronize();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!stats.ok()) {
      std::fprintf(stderr, "gpu_smoke: %s\n", std::string(stats.status().message()).c_str());
      std::exit(1);
    }
  }
  std::sort(times.begin(), times.end());
  *median_ms = times.empty() ? 0 : times[times.size() / 2];
  return loss;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "cuda";
  int steps = 20;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--device")) device_name = argv[i + 1];
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
  }
  torch::Device device(device_name);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::fprintf(stderr, "gpu_smoke: CUDA is not available to this LibTorch\n");
    return 1;
  }
  double cpu_ms = 0, dev_ms = 0, bf16_ms = 0;
  const double cpu_loss = StepLoss(torch::kCPU, torch::kFloat32, 2, &cpu_ms);
  const double dev_loss = StepLoss(device, torch::kFloat32, steps, &dev_ms);
  const double bf16_loss = StepLoss(device, torch::kBFloat16, steps, &bf16_ms);
  std::printf("cpu  loss %.6f  step %.1f ms\n", cpu_loss, cpu_ms);
  std::printf("%s loss %.6f  step %.2f ms (float32)\n", device_name.c_str(), dev_loss, dev_ms);
  std::printf("%s loss %.6f  step %.2f ms (bf16 matmuls)\n", device_name.c_str(), bf16_loss, bf16_ms);
  const bool ok = std::fabs(cpu_loss - dev_loss) < 1e-3;
  std::printf("%s: |cpu - %s| = %.2e (tolerance 1e-3)\n", ok ? "PASS" : "FAIL", device_name.c_str(),
              std::fabs(cpu_loss - dev_loss));
  return ok ? 0 : 1;
}
