#include "src/core/cl/flops.h"

#include "absl/strings/str_cat.h"

namespace libra::cl {

LayerShape LinearShape(int in, int out) { return {LayerShape::Kind::kLinear, in, out}; }
LayerShape Conv2dShape(int in_channels, int out_channels, int kernel, int stride, int pad) {
  return {LayerShape::Kind::kConv2d, in_channels, out_channels, kernel, stride, pad};
}
LayerShape MaxPoolShape(int window) {
  return {LayerShape::Kind::kMaxPool, 0, 0, window, window, 0};
}
LayerShape FlattenShape() { return {LayerShape::Kind::kFlatten}; }

absl::StatusOr<double> ForwardMacs(const std::vector<LayerShape>& layers,
                                   const ActivationShape& input) {
  ActivationShape shape = input;
  double macs = 0.0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerShape& layer = layers[i];
    const std::string where = absl::StrCat("layer ", i, ": ");
    switch (layer.kind) {
      case LayerShape::Kind::kLinear:
        if (shape.size() != 1 || shape[0] != layer.in) {
          return absl::InvalidArgumentError(absl::StrCat(where, "linear expects ", layer.in,
                                                         " features"));
        }
        macs += static_cast<double>(layer.in) * layer.out;
        shape = {layer.out};
        break;
      case LayerShape::Kind::kConv2d:
      case LayerShape::Kind::kMaxPool: {
        const bool conv = layer.kind == LayerShape::Kind::kConv2d;
        if (shape.size() != 3 || (conv && shape[0] != layer.in)) {
          return absl::InvalidArgumentError(absl::StrCat(where, "expects [channels, h, w]",
                                                         conv ? " with " : "",
                                                         conv ? absl::StrCat(layer.in) : ""));
        }
        const int h = (shape[1] + 2 * layer.pad - layer.kernel) / layer.stride + 1;
        const int w = (shape[2] + 2 * layer.pad - layer.kernel) / layer.stride + 1;
        if (h <= 0 || w <= 0) return absl::InvalidArgumentError(where + "empty output");
        const int channels = conv ? layer.out : shape[0];
        if (conv) {
          macs += static_cast<double>(h) * w * layer.out * layer.in * layer.kernel * layer.kernel;
        }
        shape = {channels, h, w};
        break;
      }
      case LayerShape::Kind::kFlatten: {
        int n = 1;
        for (int d : shape) n *= d;
        shape = {n};
        break;
      }
    }
  }
  return macs;
}

double TrainingMacs(double forward_macs_per_sample, double samples) {
  return 3.0 * forward_macs_per_sample * samples;
}

}  // namespace libra::cl
