// Adapter: what a LinearImpl (model.h) consults when an adapter is attached
// to it. Each kind (LoRA, full delta, expert mixture; a sparse adapter is one
// more subclass) computes the adapted layer output from the layer input and
// the frozen base weight, so a kind can pick its cheapest path (LoRA never
// forms the dense delta during training).
//
//   class MyAdapterImpl : public AdapterImpl {
//     torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
//                           const torch::Tensor& bias) override;
//     ...
//   };
//   linear->set_adapter(std::make_shared<MyAdapterImpl>(...));
#ifndef LIBRA_NN_ADAPTER_H_
#define LIBRA_NN_ADAPTER_H_

#include <string>

#include <torch/torch.h>

namespace libra::nn {

class AdapterImpl : public torch::nn::Module {
 public:
  ~AdapterImpl() override = default;
  // The layer output with the adapter: x [.., in] -> [.., out]. `bias` may be
  // undefined.
  virtual torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias) = 0;
  // The dense change to the weight, [out, in] (merging into a full checkpoint).
  virtual torch::Tensor DeltaWeight() = 0;
  // "lora", "full", "mixture", ...
  virtual std::string kind() const = 0;
  // True when each output row depends only on its own input row and the
  // weights, so Forward may be given any subset of a batch's rows
  // (CausalLMImpl::HiddenAt); false for kinds that route per sequence.
  virtual bool RowWise() const { return false; }
};

}  // namespace libra::nn

#endif  // LIBRA_NN_ADAPTER_H_
