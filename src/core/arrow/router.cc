#include "src/core/arrow/router.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "src/core/engine/kernels.h"

namespace libra::arrow {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

absl::Status ValidateOptions(const RouterOptions& options, int64_t experts) {
  if (experts < 1) return absl::InvalidArgumentError("arrow router: no prototypes (0 experts)");
  if (options.top_k < 1 || options.top_k > experts) {
    return absl::InvalidArgumentError(absl::StrCat("arrow router: top_k must be in [1, ", experts,
                                                   "] (the number of experts), got ",
                                                   options.top_k));
  }
  if (!(options.temperature > 0.0f) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "arrow router: temperature must be finite and > 0, got ", options.temperature));
  }
  return absl::OkStatus();
}

// Reads hidden as [tokens, dim] (a 1-D hidden is one token) and checks the
// prototypes are [experts, dim].
absl::Status Shapes(const Tensor& hidden, const Tensor& prototypes, int64_t* tokens,
                    int64_t* experts, int64_t* dim) {
  if (prototypes.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "arrow router: prototypes must be [experts, in], got ", ShapeToString(prototypes.shape())));
  }
  *experts = prototypes.dim(0);
  *dim = prototypes.dim(1);
  if (hidden.rank() == 1 && hidden.dim(0) == *dim) {
    *tokens = 1;
  } else if (hidden.rank() == 2 && hidden.dim(1) == *dim) {
    *tokens = hidden.dim(0);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("arrow router: hidden states must be [tokens, ",
                                                   *dim, "] to match prototypes ",
                                                   ShapeToString(prototypes.shape()), ", got ",
                                                   ShapeToString(hidden.shape())));
  }
  return absl::OkStatus();
}

}  // namespace

// The engine's kernel: SIMD natively and in wasm (its eight-lane order;
// the tail, past the last multiple of 8, is added after the lanes).
float Dot(const float* a, const float* b, int64_t n) { return engine::Dot(a, b, n); }

absl::Status RouteRaw(const float* hidden, int64_t tokens, const float* prototypes,
                      int64_t experts, int64_t dim, const RouterOptions& options,
                      int32_t* experts_out, float* weights_out) {
  if (absl::Status s = ValidateOptions(options, experts); !s.ok()) return s;
  if (tokens < 0 || dim < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("arrow router: bad sizes tokens=", tokens, " dim=", dim));
  }
  const int k = options.top_k;
  const float inv_temperature = 1.0f / options.temperature;
  float top_logit_small[16];  // no allocation for the usual k (the engine routes every module of every token)
  std::vector<float> top_logit_large(k > 16 ? k : 0);
  float* top_logit = k > 16 ? top_logit_large.data() : top_logit_small;
  for (int64_t t = 0; t < tokens; ++t) {
    const float* x = hidden + t * dim;
    int32_t* top_expert = experts_out + t * k;
    for (int j = 0; j < k; ++j) {
      top_logit[j] = kNegInf;
      top_expert[j] = -1;
    }
    for (int64_t e = 0; e < experts; ++e) {
      float logit = std::fabs(Dot(x, prototypes + e * dim, dim)) * inv_temperature;
      if (std::isnan(logit)) logit = kNegInf;
      // Insertion into the sorted top-k; strict > keeps the lower index
      // first on ties, and an empty slot (-1) always takes a candidate.
      int j = k - 1;
      if (!(logit > top_logit[j]) && top_expert[j] >= 0) continue;
      while (j > 0 && (logit > top_logit[j - 1] || top_expert[j - 1] < 0)) {
        top_logit[j] = top_logit[j - 1];
        top_expert[j] = top_expert[j - 1];
        --j;
      }
      top_logit[j] = logit;
      top_expert[j] = static_cast<int32_t>(e);
    }
    float* w = weights_out + t * k;
    const float max_logit = top_logit[0];
    if (std::isinf(max_logit)) {
      for (int j = 0; j < k; ++j) w[j] = 1.0f / k;  // no usable scores: uniform
      continue;
    }
    float total = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = std::exp(top_logit[j] - max_logit);
      total += w[j];
    }
    for (int j = 0; j < k; ++j) w[j] /= total;
  }
  return absl::OkStatus();
}

absl::StatusOr<Routing> Route(const Tensor& hidden, const Tensor& prototypes,
                              const RouterOptions& options) {
  int64_t tokens = 0, experts = 0, dim = 0;
  if (absl::Status s = Shapes(hidden, prototypes, &tokens, &experts, &dim); !s.ok()) return s;
  if (absl::Status s = ValidateOptions(options, experts); !s.ok()) return s;
  Routing routing;
  routing.tokens = tokens;
  routing.top_k = options.top_k;
  routing.experts.resize(tokens * options.top_k);
  routing.weights.resize(tokens * options.top_k);
  if (absl::Status s = RouteRaw(hidden.data(), tokens, prototypes.data(), experts, dim, options,
                                routing.experts.data(), routing.weights.data());
      !s.ok()) {
    return s;
  }
  return routing;
}

absl::StatusOr<Tensor> ArrowLogits(const Tensor& hidden, const Tensor& prototypes,
                                   float temperature) {
  int64_t tokens = 0, experts = 0, dim = 0;
  if (absl::Status s = Shapes(hidden, prototypes, &tokens, &experts, &dim); !s.ok()) return s;
  RouterOptions options;
  options.top_k = 1;
  options.temperature = temperature;
  if (absl::Status s = ValidateOptions(options, experts); !s.ok()) return s;
  Tensor logits = Tensor::Zeros({tokens, experts});
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t e = 0; e < experts; ++e) {
      logits.at(t * experts + e) =
          std::fabs(Dot(hidden.data() + t * dim, prototypes.data() + e * dim, dim)) / temperature;
    }
  }
  return logits;
}

}  // namespace libra::arrow
