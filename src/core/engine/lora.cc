#include "src/core/engine/lora.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"

namespace libra::engine {
namespace {

struct Parsed {
  int layer = -1;
  Proj proj = Proj::kQ;
  bool is_a = false;
};

// "....layers.<n>.<proj name>.lora_{A,B}[.weight]" -> (n, proj, A?)
bool ParseLoraName(absl::string_view name, Parsed* out) {
  size_t layers = name.rfind("layers.");
  if (layers == absl::string_view::npos) return false;
  absl::string_view rest = name.substr(layers + 7);
  size_t dot = rest.find('.');
  if (dot == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, dot), &out->layer)) return false;
  rest = rest.substr(dot + 1);
  for (int p = 0; p < kNumProj; ++p) {
    const std::string prefix = absl::StrCat(ProjName(static_cast<Proj>(p)), ".lora_");
    if (rest.substr(0, prefix.size()) != prefix) continue;
    absl::string_view factor = rest.substr(prefix.size());
    if (factor != "A" && factor != "B" && factor != "A.weight" && factor != "B.weight") return false;
    out->proj = static_cast<Proj>(p);
    out->is_a = factor[0] == 'A';
    return true;
  }
  return false;
}

absl::StatusOr<float> ScaleFromMetadata(const SafetensorsFile& file, int64_t rank) {
  const auto& metadata = file.metadata();
  double value = 1;
  if (auto it = metadata.find("lora_scale"); it != metadata.end()) {
    if (!absl::SimpleAtod(it->second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata \"lora_scale\": not a number: \"", it->second, "\" (", file.label(), ")"));
    }
    return static_cast<float>(value);
  }
  if (auto it = metadata.find("lora_alpha"); it != metadata.end()) {
    if (!absl::SimpleAtod(it->second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata \"lora_alpha\": not a number: \"", it->second, "\" (", file.label(), ")"));
    }
    auto rslora = metadata.find("use_rslora");
    const bool use_rslora = rslora != metadata.end() && rslora->second == "true";
    return static_cast<float>(value / (use_rslora ? std::sqrt(static_cast<double>(rank)) : rank));
  }
  return 1.0f;
}

// Eigenvector of the largest eigenvalue of symmetric g [n, n] (cyclic Jacobi).
std::vector<double> TopEigenvector(std::vector<double> g, int n) {
  std::vector<double> v(n * n, 0.0);
  for (int i = 0; i < n; ++i) v[i * n + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += g[p * n + q] * g[p * n + q];
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p) {
      for (int q = p + 1; q < n; ++q) {
        const double gpq = g[p * n + q];
        if (std::abs(gpq) < 1e-300) continue;
        const double theta = (g[q * n + q] - g[p * n + p]) / (2 * gpq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // g <- J^T g J
          const double gkp = g[k * n + p], gkq = g[k * n + q];
          g[k * n + p] = c * gkp - s * gkq;
          g[k * n + q] = s * gkp + c * gkq;
        }
        for (int k = 0; k < n; ++k) {
          const double gpk = g[p * n + k], gqk = g[q * n + k];
          g[p * n + k] = c * gpk - s * gqk;
          g[q * n + k] = s * gpk + c * gqk;
        }
        for (int k = 0; k < n; ++k) {
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (g[i * n + i] > g[best * n + best]) best = i;
  std::vector<double> top(n);
  for (int k = 0; k < n; ++k) top[k] = v[k * n + best];
  return top;
}

}  // namespace

const char* ProjName(Proj proj) {
  switch (proj) {
    case Proj::kQ: return "self_attn.q_proj";
    case Proj::kK: return "self_attn.k_proj";
    case Proj::kV: return "self_attn.v_proj";
    case Proj::kO: return "self_attn.o_proj";
    case Proj::kGate: return "mlp.gate_proj";
    case Proj::kUp: return "mlp.up_proj";
    case Proj::kDown: return "mlp.down_proj";
  }
  return "?";
}

int64_t ProjOutDim(const LlamaConfig& config, Proj proj) {
  switch (proj) {
    case Proj::kQ: return config.num_heads * config.head_dim();
    case Proj::kK: case Proj::kV: return config.kv_dim();
    case Proj::kO: case Proj::kDown: return config.hidden_size;
    case Proj::kGate: case Proj::kUp: return config.intermediate_size;
  }
  return 0;
}

int64_t ProjInDim(const LlamaConfig& config, Proj proj) {
  switch (proj) {
    case Proj::kO: return config.num_heads * config.head_dim();
    case Proj::kDown: return config.intermediate_size;
    default: return config.hidden_size;
  }
}

absl::StatusOr<Tensor> ArrowPrototype(const Tensor& a, const Tensor& b) {
  if (a.rank() != 2 || b.rank() != 2 || b.dim(1) != a.dim(0)) {
    return absl::InvalidArgumentError(absl::StrCat("Arrow prototype: A ", ShapeToString(a.shape()),
                                                   " and B ", ShapeToString(b.shape()), " do not chain"));
  }
  const int64_t r = a.dim(0), in = a.dim(1), out = b.dim(0);
  // A^T = Q R by modified Gram-Schmidt over A's rows; q rows [r, in].
  std::vector<double> q(r * in), rr(r * r, 0.0);
  for (int64_t i = 0; i < r; ++i) {
    std::vector<double> v(a.data() + i * in, a.data() + (i + 1) * in);
    for (int pass = 0; pass < 2; ++pass) {  // re-orthogonalise once for accuracy
      for (int64_t j = 0; j < i; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < in; ++k) dot += q[j * in + k] * v[k];
        rr[j * r + i] += dot;
        for (int64_t k = 0; k < in; ++k) v[k] -= dot * q[j * in + k];
      }
    }
    double norm = 0;
    for (double x : v) norm += x * x;
    norm = std::sqrt(norm);
    rr[i * r + i] = norm;
    for (int64_t k = 0; k < in; ++k) q[i * in + k] = norm > 0 ? v[k] / norm : 0.0;
  }
  // B A = B R^T Q^T = C Q^T with C = B R^T [out, r]; top right singular
  // vector of B A is Q u, u the top eigenvector of C^T C.
  std::vector<double> c(out * r, 0.0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t j = 0; j < r; ++j)
      for (int64_t k = 0; k < r; ++k) c[o * r + j] += b.data()[o * r + k] * rr[j * r + k];
  std::vector<double> g(r * r, 0.0);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < r; ++j)
      for (int64_t o = 0; o < out; ++o) g[i * r + j] += c[o * r + i] * c[o * r + j];
  std::vector<double> u = TopEigenvector(std::move(g), static_cast<int>(r));
  Tensor prototype = Tensor::Zeros({in});
  double norm = 0;
  std::vector<double> p(in, 0.0);
  for (int64_t j = 0; j < r; ++j)
    for (int64_t k = 0; k < in; ++k) p[k] += u[j] * q[j * in + k];
  for (double x : p) norm += x * x;
  norm = std::sqrt(norm);
  if (!(norm > 0)) return absl::InvalidArgumentError("Arrow prototype: B A is zero");
  for (int64_t k = 0; k < in; ++k) prototype.at(k) = static_cast<float>(p[k] / norm);
  return prototype;
}

absl::StatusOr<LoraExpert> LoadLoraExpert(std::string name, const SafetensorsFile& file,
                                          const LlamaConfig& config) {
  LoraExpert expert;
  expert.name = std::move(name);
  std::map<std::pair<int, int>, std::pair<std::string, std::string>> pairs;  // A name, B name
  for (const TensorInfo& info : file.tensors()) {
    Parsed parsed;
    if (info.name.find(".lora_") == std::string::npos) continue;
    if (!ParseLoraName(info.name, &parsed)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", info.name, "\": not a LoRA factor of a Llama projection (", file.label(), ")"));
    }
    if (parsed.layer < 0 || parsed.layer >= config.num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", info.name, "\": layer ", parsed.layer,
                                                     " outside the model's ", config.num_layers,
                                                     " layers (", file.label(), ")"));
    }
    auto& slot = pairs[{parsed.layer, static_cast<int>(parsed.proj)}];
    (parsed.is_a ? slot.first : slot.second) = info.name;
  }
  if (pairs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no LoRA modules (", file.label(), ")"));
  }
  for (const auto& [key, names] : pairs) {
    const Proj proj = static_cast<Proj>(key.second);
    if (names.first.empty() || names.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", names.first.empty() ? names.second : names.first,
                                                     "\": its ", names.first.empty() ? "lora_A" : "lora_B",
                                                     " is missing (", file.label(), ")"));
    }
    LoraModule module;
    LIBRA_ASSIGN_OR_RETURN(module.a, file.ReadFloat(names.first));
    LIBRA_ASSIGN_OR_RETURN(module.b, file.ReadFloat(names.second));
    const int64_t in = ProjInDim(config, proj), out = ProjOutDim(config, proj);
    const int64_t rank = module.a.rank() == 2 ? module.a.dim(0) : -1;
    if (rank <= 0 || module.a.dim(1) != in) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", names.first, "\": expected [r, ", in, "], got ",
                                                     ShapeToString(module.a.shape()), " (", file.label(), ")"));
    }
    if (module.b.rank() != 2 || module.b.dim(0) != out || module.b.dim(1) != rank) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", names.second, "\": expected [", out, ", ", rank,
                                                     "], got ", ShapeToString(module.b.shape()), " (",
                                                     file.label(), ")"));
    }
    LIBRA_ASSIGN_OR_RETURN(module.scale, ScaleFromMetadata(file, rank));
    LIBRA_ASSIGN_OR_RETURN(module.prototype, ArrowPrototype(module.a, module.b));
    expert.modules.emplace(key, std::move(module));
  }
  return expert;
}

}  // namespace libra::engine
