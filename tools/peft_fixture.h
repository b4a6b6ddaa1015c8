// Writes synthetic PEFT LoRA adapter folders (adapter_config.json +
// adapter_model.safetensors) the way PEFT saves them, for tests and the
// demo. Values are seeded Gaussians.
//
//   PeftFixture fixture;
//   fixture.modules = {{"model.layers.0.self_attn.q_proj", 32, 16}};
//   fixture.rank = 4;
//   LIBRA_RETURN_IF_ERROR(WritePeftFixture("adapters/a", fixture));
#ifndef LIBRA_TOOLS_PEFT_FIXTURE_H_
#define LIBRA_TOOLS_PEFT_FIXTURE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "src/core/tensor.h"

namespace libra {

struct PeftFixtureModule {
  std::string name;  // without "base_model.model."
  int64_t out_features = 0;
  int64_t in_features = 0;
};

struct PeftFixture {
  std::vector<PeftFixtureModule> modules;
  int rank = 4;
  double alpha = 8;
  bool use_rslora = false;
  DType dtype = DType::kF32;
  uint64_t seed = 0;
  // In file order, as PEFT keeps them; values are ranks / alphas.
  std::vector<std::pair<std::string, int>> rank_pattern;
  std::vector<std::pair<std::string, double>> alpha_pattern;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  std::string base_model = "tiny-base";
  // Extra or overriding adapter_config.json fields (e.g. {"use_dora": true}).
  nlohmann::ordered_json extra_config = nlohmann::ordered_json::object();
};

// The per-module rank a fixture uses: the first matching rank_pattern key
// (full name or dot-suffix, literal), else `rank`.
int FixtureRank(const PeftFixture& fixture, const std::string& module);

absl::Status WritePeftFixture(const std::string& dir, const PeftFixture& fixture);

// Llama-style module names: model.layers.<i>.self_attn.{q,v}_proj, [dim, dim].
std::vector<PeftFixtureModule> LlamaAttentionModules(int layers, int64_t dim);

}  // namespace libra

#endif  // LIBRA_TOOLS_PEFT_FIXTURE_H_
