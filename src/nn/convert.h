// Conversions between the core's float32 Tensor and torch tensors (copies).
//
//   torch::Tensor t = ToTorch(core_tensor);        // CPU float32
//   libra::Tensor c = ToCore(t);                   // any device/dtype
#ifndef LIBRA_NN_CONVERT_H_
#define LIBRA_NN_CONVERT_H_

#include <vector>

#include <torch/torch.h>

#include "src/core/tensor.h"

namespace libra::nn {

inline torch::Tensor ToTorch(const Tensor& tensor) {
  return torch::from_blob(const_cast<float*>(tensor.data()), tensor.shape(), torch::kFloat32)
      .clone();
}

inline Tensor ToCore(const torch::Tensor& tensor) {
  torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<float> values(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
  return Tensor(cpu.sizes().vec(), std::move(values));
}

}  // namespace libra::nn

#endif  // LIBRA_NN_CONVERT_H_
