// Analytic compute accounting, in multiply-adds (MACs; 1 MAC = 2 FLOPs).
//
// Forward MACs per sample, layer by layer (biases, activations and pooling
// are not multiply-adds and are not counted):
//   Linear(in, out)                     in * out
//   Conv2d(cin, cout, k, stride, pad)   H_out * W_out * cout * cin * k * k,
//                                       H_out = (H + 2 pad - k) / stride + 1
// Training counts backward as 2 x forward, so one training pass over a
// sample costs 3 x forward; the one-off encoding of a stream by a frozen
// encoder is forward only and is reported separately. (The reference code
// divides its counts by 10e9 to report GFLOPs; 1e9 is meant.)
//
//   std::vector<LayerShape> net = {Conv2dShape(1, 8, 3, 1, 1), MaxPoolShape(2), LinearShape(1568, 10)};
//   LIBRA_ASSIGN_OR_RETURN(double macs, ForwardMacs(net, {1, 28, 28}));
#ifndef LIBRA_CORE_CL_FLOPS_H_
#define LIBRA_CORE_CL_FLOPS_H_

#include <vector>

#include "absl/status/statusor.h"

namespace libra::cl {

struct LayerShape {
  enum class Kind { kLinear, kConv2d, kMaxPool, kFlatten } kind;
  int in = 0;  // Linear: in features; Conv2d: in channels
  int out = 0;
  int kernel = 1;  // Conv2d, MaxPool (window = stride for pooling)
  int stride = 1;
  int pad = 0;
};

LayerShape LinearShape(int in, int out);
LayerShape Conv2dShape(int in_channels, int out_channels, int kernel, int stride, int pad);
LayerShape MaxPoolShape(int window);
LayerShape FlattenShape();

// The activation shape: {features} or {channels, height, width}.
using ActivationShape = std::vector<int>;

// Forward MACs of one sample through `layers` from `input`; a layer that
// does not fit its input (channel or width mismatch, empty output) is an
// error naming the layer's index.
absl::StatusOr<double> ForwardMacs(const std::vector<LayerShape>& layers,
                                   const ActivationShape& input);

// 3 x forward x samples (forward + backward at 2 x forward).
double TrainingMacs(double forward_macs_per_sample, double samples);

}  // namespace libra::cl

#endif  // LIBRA_CORE_CL_FLOPS_H_
