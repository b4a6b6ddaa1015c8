// Sparse adapter (src/nn/sparse_adapter.h) against computations written
// plainly here: SNIP masks from gradients of a dense copy of the model,
// forward/backward of a dense masked delta, nnz-sized parameters and AdamW
// state, mask recomputation during the first epoch, and lossless round trips
// through expert and library files.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/sparse_adapter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"
#include "src/core/merge/expert_file.h"
#include "src/core/text/byte_tokenizer.h"
#include "src/nn/adapters.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/trainer.h"
#include "tests/nn/test_util.h"

namespace libra::nn {
namespace {

// v_proj is [16, 32].
ModelConfig TinyConfig() { return testing::TinyByteLlama(); }

CausalLM TinyModel() {
  torch::manual_seed(3);
  return CausalLM(TinyConfig());
}

const std::vector<std::string> kTargets = {"q_proj", "v_proj"};

CausalLM SparseModel(const SparseOptions& options) {
  CausalLM model = TinyModel();
  AdapterConfig config;
  config.kind = AdapterKind::kSparse;
  config.sparse = options;
  config.targets.names = kTargets;
  EXPECT_TRUE(AttachAdapters(*model, config, 4).ok());
  return model;
}

// Calibration batch i: fixed random ids, next-token cross-entropy.
torch::Tensor CalibrationLoss(CausalLMImpl& model, int64_t i) {
  torch::manual_seed(100 + i);
  const torch::Tensor ids = torch::randint(0, 260, {2, 9}, torch::kInt64);
  const torch::Tensor logits = model.forward(ids.slice(1, 0, 8));
  return torch::nn::functional::cross_entropy(logits.reshape({-1, 260}),
                                              ids.slice(1, 1, 9).reshape({-1}));
}

// |dL/dW * W| of each adapted module, from a dense copy of the model whose
// targeted weights are W0 + dW and require grad (float32 products, as the
// adapter's).
std::map<std::string, std::vector<float>> DirectScores(
    const std::map<std::string, torch::Tensor>& deltas, int64_t batches) {
  CausalLM dense = TinyModel();
  std::map<std::string, std::shared_ptr<LinearImpl>> linears;
  for (auto& [name, linear] : dense->Linears()) {
    linear->weight.set_requires_grad(false);
    if (deltas.count(name)) linears[name] = linear;
  }
  for (auto& [name, linear] : linears) {
    torch::NoGradGuard no_grad;
    linear->weight.add_(deltas.at(name));
    linear->weight.set_requires_grad(true);
  }
  for (int64_t i = 0; i < batches; ++i) (CalibrationLoss(*dense, i) / static_cast<double>(batches)).backward();
  std::map<std::string, std::vector<float>> scores;
  for (auto& [name, linear] : linears) {
    const torch::Tensor w = linear->weight.detach().contiguous(), g = linear->weight.grad().contiguous();
    std::vector<float>& s = scores[name];
    for (int64_t k = 0; k < w.numel(); ++k) {
      s.push_back(std::fabs(g.data_ptr<float>()[k] * w.data_ptr<float>()[k]));
    }
  }
  return scores;
}

struct Unit {
  double score;
  int64_t order;  // position in the ranking's tie order
  std::string module;
  int64_t id;     // entry or block within the module
};

// The kept entries of each module: top-k units (entries, or blocks of
// `block` x `block` with summed scores), per module or over all modules.
std::map<std::string, std::set<int64_t>> DirectMasks(
    const std::map<std::string, std::vector<float>>& scores,
    const std::map<std::string, std::pair<int64_t, int64_t>>& shapes, double keep, bool global,
    int64_t block) {
  std::map<std::string, std::vector<Unit>> units;
  int64_t order = 0;
  for (const auto& [name, s] : scores) {
    const auto [rows, cols] = shapes.at(name);
    const int64_t block_cols = (cols + block - 1) / block, block_rows = (rows + block - 1) / block;
    std::vector<double> sums(block_rows * block_cols, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) sums[(r / block) * block_cols + c / block] += s[r * cols + c];
    }
    for (int64_t u = 0; u < static_cast<int64_t>(sums.size()); ++u) {
      units[global ? "" : name].push_back({sums[u], order++, name, u});
    }
  }
  std::map<std::string, std::set<int64_t>> kept_units;
  for (auto& [group, list] : units) {
    std::sort(list.begin(), list.end(), [](const Unit& a, const Unit& b) {
      return a.score != b.score ? a.score > b.score : a.order < b.order;
    });
    const int64_t k = std::max<int64_t>(1, std::llround(keep * list.size()));
    for (int64_t i = 0; i < k; ++i) kept_units[list[i].module].insert(list[i].id);
  }
  std::map<std::string, std::set<int64_t>> masks;
  for (const auto& [name, s] : scores) {
    const auto [rows, cols] = shapes.at(name);
    const int64_t block_cols = (cols + block - 1) / block;
    masks[name];
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        if (kept_units[name].count((r / block) * block_cols + c / block)) masks[name].insert(r * cols + c);
      }
    }
  }
  return masks;
}

std::set<int64_t> AsSet(const torch::Tensor& indices) {
  const torch::Tensor c = indices.contiguous();
  return std::set<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

void ExpectMasksMatchDirect(const SparseOptions& options) {
  SCOPED_TRACE(::testing::Message() << "keep " << options.keep_ratio << " global "
                                    << (options.scope == MaskScope::kGlobal) << " block "
                                    << options.block_size);
  CausalLM model = SparseModel(options);
  auto calibration = [&](int64_t i) { return CalibrationLoss(*model, i); };
  // First mask at dW = 0, then again with learned (here: random) values.
  for (int round = 0; round < 2; ++round) {
    std::map<std::string, torch::Tensor> deltas;
    std::map<std::string, std::pair<int64_t, int64_t>> shapes;
    for (auto& [name, adapter] : SparseAdapters(*model)) {
      deltas[name] = adapter->DeltaWeight().detach().clone();
      shapes[name] = {adapter->out_features, adapter->in_features};
    }
    auto remap = UpdateSparseMasks(*model, options, calibration);
    ASSERT_TRUE(remap.ok()) << remap.status();
    const auto direct = DirectMasks(DirectScores(deltas, options.calibration_batches), shapes,
                                    options.keep_ratio, options.scope == MaskScope::kGlobal,
                                    options.block_size);
    for (auto& [name, adapter] : SparseAdapters(*model)) {
      EXPECT_EQ(AsSet(adapter->indices), direct.at(name)) << name << " round " << round;
      EXPECT_EQ(adapter->values.numel(), adapter->indices.numel());
      EXPECT_TRUE(remap->count(name + ".adapter.values")) << name;
    }
    torch::NoGradGuard no_grad;
    torch::manual_seed(50 + round);
    for (auto& [name, adapter] : SparseAdapters(*model)) {
      adapter->values.copy_(torch::randn_like(adapter->values) * 0.5);
    }
  }
}

TEST(SparseMaskTest, RegularPerLayerIsTopKOfGradTimesEffectiveWeight) {
  SparseOptions options;
  options.keep_ratio = 0.1;
  ExpectMasksMatchDirect(options);
}

TEST(SparseMaskTest, RegularGlobalUsesOneThresholdAcrossModules) {
  SparseOptions options;
  options.keep_ratio = 0.05;
  options.scope = MaskScope::kGlobal;
  options.calibration_batches = 2;
  ExpectMasksMatchDirect(options);
}

TEST(SparseMaskTest, BlocksPerLayerAndGlobal) {
  SparseOptions options;
  options.keep_ratio = 0.3;
  options.block_size = 16;
  ExpectMasksMatchDirect(options);
  options.scope = MaskScope::kGlobal;
  ExpectMasksMatchDirect(options);
}

TEST(SparseMaskTest, PartialEdgeBlocksAreScoredBySum) {
  // 20 x 24 in 16 x 16 blocks: a full block and three partial ones.
  torch::manual_seed(9);
  const torch::Tensor score = torch::rand({20, 24});
  SparseOptions options;
  options.block_size = 16;
  options.keep_ratio = 0.5;  // 2 of 4 blocks
  const std::vector<torch::Tensor> masks = SelectMasks({score}, options);
  std::vector<float> flat(score.data_ptr<float>(), score.data_ptr<float>() + score.numel());
  const auto direct = DirectMasks({{"m", flat}}, {{"m", {20, 24}}}, 0.5, false, 16);
  EXPECT_EQ(AsSet(masks[0]), direct.at("m"));
}

TEST(SparseMaskTest, BadOptionsAreRejected) {
  CausalLM model = TinyModel();
  AdapterConfig config;
  config.kind = AdapterKind::kSparse;
  config.targets.names = kTargets;
  config.sparse.keep_ratio = 0;
  auto attached = AttachAdapters(*model, config, 1);
  ASSERT_FALSE(attached.ok());
  EXPECT_TRUE(absl::StrContains(attached.status().message(), "keep_ratio must be in (0, 1]"));
  config.sparse.keep_ratio = 0.1;
  config.sparse.block_size = 8;
  attached = AttachAdapters(*model, config, 1);
  ASSERT_FALSE(attached.ok());
  EXPECT_TRUE(absl::StrContains(attached.status().message(), "block size must be 1 or 16"));
  EXPECT_FALSE(ParseMaskScope("model").ok());
  EXPECT_EQ(*ParseAdapterKind("sparse"), AdapterKind::kSparse);
}

TEST(SparseAdapterTest, ForwardAndBackwardEqualDenseMaskedDelta) {
  const int64_t in = 6, out = 5, rows = 4;
  SparseAdapterImpl adapter(in, out);
  adapter.SetEntries(torch::tensor({29, 3, 7, 12}, torch::kInt64),
                     torch::tensor({0.5f, -1.0f, 2.0f, 0.25f}));
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({rows, in}), w = torch::randn({out, in}), b = torch::randn({out});
  const torch::Tensor upstream = torch::randn({rows, out});
  torch::Tensor y = adapter.Forward(x, w, b);
  (y * upstream).sum().backward();

  // Dense delta D with the masked entries, y = x (W + D)^T + b by loops.
  std::vector<double> d(out * in, 0.0);
  const std::map<int64_t, double> entries = {{3, -1.0}, {7, 2.0}, {12, 0.25}, {29, 0.5}};
  for (auto [k, v] : entries) d[k] = v;
  auto at = [](const torch::Tensor& t, int64_t i, int64_t j) { return t[i][j].item<double>(); };
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double sum = b[o].item<double>();
      for (int64_t i = 0; i < in; ++i) sum += at(x, r, i) * (at(w, o, i) + d[o * in + i]);
      EXPECT_NEAR(y[r][o].item<double>(), sum, 1e-5);
    }
  }
  // dL/dD[o, i] = sum_r upstream[r, o] x[r, i], read at the kept entries
  // (indices ascending: 3, 7, 12, 29).
  ASSERT_EQ(adapter.values.grad().numel(), 4);
  int64_t n = 0;
  for (auto [k, v] : entries) {
    double grad = 0;
    for (int64_t r = 0; r < rows; ++r) grad += at(upstream, r, k / in) * at(x, r, k % in);
    EXPECT_NEAR(adapter.values.grad()[n].item<double>(), grad, 1e-5) << "entry " << k;
    EXPECT_FLOAT_EQ(adapter.values[n].item<float>(), static_cast<float>(v));
    ++n;
  }
  const torch::Tensor delta = adapter.DeltaWeight();
  for (int64_t k = 0; k < out * in; ++k) EXPECT_EQ(delta.reshape({-1})[k].item<double>(), d[k]);
}

TEST(SparseAdapterTest, SetMaskCarriesKeptValuesAndStartsNewOnesAtZero) {
  SparseAdapterImpl adapter(4, 4);
  adapter.SetEntries(torch::tensor({1, 5, 9}, torch::kInt64), torch::tensor({1.0f, 5.0f, 9.0f}));
  const torch::Tensor source = adapter.SetMask(torch::tensor({9, 2, 1}, torch::kInt64));
  EXPECT_EQ(AsSet(adapter.indices), (std::set<int64_t>{1, 2, 9}));
  EXPECT_TRUE(torch::equal(adapter.indices, torch::tensor({1, 2, 9}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(adapter.values, torch::tensor({1.0f, 0.0f, 9.0f})));
  EXPECT_TRUE(torch::equal(source, torch::tensor({0, -1, 2}, torch::kInt64)));
}

std::vector<TokenizedExample> ReverseData(int n) {
  text::ByteTokenizer tokenizer;
  std::mt19937 rng(5);
  std::vector<TokenizedExample> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int k = 0, len = 2 + rng() % 4; k < len; ++k) s += static_cast<char>('a' + rng() % 4);
    auto ex = EncodeExample(tokenizer, "R " + s, std::string(s.rbegin(), s.rend()), 64);
    EXPECT_TRUE(ex.ok());
    out.push_back(*ex);
  }
  return out;
}

TEST(SparseTrainingTest, ParametersAndAdamStateHaveNnzElements) {
  SparseOptions sparse;
  sparse.keep_ratio = 0.05;
  CausalLM model = SparseModel(sparse);
  const std::string dir = testing::TempDir("sparse_sizes");
  TrainOptions options;
  options.batch_size = 4;
  options.max_steps = 3;
  options.learning_rate = 1e-2;
  options.progress = false;
  options.checkpoint_path = dir + "/ckpt.safetensors";
  options.before_step = SparseMaskSchedule(*model, sparse);
  ASSERT_TRUE(Train(*model, ReverseData(12), options).ok());
  auto checkpoint = SafetensorsFile::Open(options.checkpoint_path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const auto trainable = TrainableParameters(*model);
  ASSERT_EQ(trainable.size(), 4u);  // q and v of 2 layers
  for (const auto& [name, param] : trainable) {
    EXPECT_TRUE(absl::EndsWith(name, ".adapter.values")) << name;
    const int64_t dense = name.find("q_proj") != std::string::npos ? 32 * 32 : 16 * 32;
    const int64_t nnz = std::llround(0.05 * dense);
    EXPECT_EQ(param.sizes().vec(), std::vector<int64_t>{nnz}) << name;
    for (const char* prefix : {"exp_avg:", "exp_avg_sq:", "param:"}) {
      const TensorInfo* info = checkpoint->Find(prefix + name);
      ASSERT_NE(info, nullptr) << prefix << name;
      EXPECT_EQ(info->shape, std::vector<int64_t>{nnz}) << prefix << name;
    }
    EXPECT_GT(param.abs().sum().item<double>(), 0.0) << name << " was not trained";
  }
}

TEST(SparseTrainingTest, MaskRecomputedInFirstEpochCarriesValuesThenFreezes) {
  SparseOptions sparse;
  sparse.keep_ratio = 0.05;
  sparse.scope = MaskScope::kGlobal;
  sparse.update_every = 2;
  CausalLM model = SparseModel(sparse);
  TrainOptions options;
  options.batch_size = 4;
  options.epochs = 2;  // 16 examples: 4 steps per epoch, 8 steps
  options.learning_rate = 5e-2;
  options.schedule = Schedule::kConstant;
  options.progress = false;
  const BeforeStepHook schedule = SparseMaskSchedule(*model, sparse);
  std::vector<int64_t> recomputed_at;
  int64_t carried_nonzero = 0;
  std::map<std::string, torch::Tensor> frozen;
  options.before_step = [&](const StepContext& context) -> absl::StatusOr<ParameterRemap> {
    EXPECT_EQ(context.steps_per_epoch, 4);
    std::map<std::string, std::map<int64_t, float>> before;
    for (auto& [name, adapter] : SparseAdapters(*model)) {
      for (int64_t k = 0; k < adapter->nnz(); ++k) {
        before[name][adapter->indices[k].item<int64_t>()] = adapter->values[k].item<float>();
      }
    }
    absl::StatusOr<ParameterRemap> remap = schedule(context);
    if (!remap.ok()) return remap;
    if (!remap->empty()) recomputed_at.push_back(context.step);
    for (auto& [name, adapter] : SparseAdapters(*model)) {
      for (int64_t k = 0; k < adapter->nnz(); ++k) {
        const int64_t index = adapter->indices[k].item<int64_t>();
        const float value = adapter->values[k].item<float>();
        auto it = before[name].find(index);
        if (it == before[name].end()) {
          EXPECT_EQ(value, 0.0f) << name << " new entry " << index;
        } else {
          EXPECT_EQ(value, it->second) << name << " kept entry " << index;
          carried_nonzero += value != 0.0f;
        }
      }
      if (context.step == 4) frozen[name] = adapter->indices.clone();
      if (context.step > 4) {
        EXPECT_TRUE(torch::equal(adapter->indices, frozen[name])) << name;
      }
    }
    return remap;
  };
  auto stats = Train(*model, ReverseData(16), options);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->steps, 8);
  EXPECT_EQ(recomputed_at, (std::vector<int64_t>{0, 2}));
  EXPECT_GT(carried_nonzero, 0);
  // Global scope: one count over both module shapes.
  int64_t total = 0;
  for (auto& [name, adapter] : SparseAdapters(*model)) total += adapter->nnz();
  EXPECT_EQ(total, std::llround(0.05 * 2 * (32 * 32 + 16 * 32)));
}

// The AdamW moments of entries that stay in the mask move with them, new
// entries start at 0: with the gradients zeroed (after_backward), one step
// after the change leaves exp_avg = beta1 * (remapped exp_avg) exactly.
TEST(SparseTrainingTest, AdamMomentsFollowTheirEntriesWhenTheMaskChanges) {
  SparseOptions sparse;
  sparse.keep_ratio = 0.1;
  CausalLM model = SparseModel(sparse);
  const std::string dir = testing::TempDir("sparse_moments");
  TrainOptions options;
  options.batch_size = 4;
  options.max_steps = 4;
  options.learning_rate = 1e-2;
  options.progress = false;
  options.checkpoint_path = dir + "/ckpt.safetensors";
  options.stop_after_steps = 1;
  options.before_step = SparseMaskSchedule(*model, sparse);
  const std::vector<TokenizedExample> data = ReverseData(12);
  ASSERT_TRUE(Train(*model, data, options).ok());
  auto read = [&](const std::string& key) {
    auto file = SafetensorsFile::Open(options.checkpoint_path);
    EXPECT_TRUE(file.ok()) << file.status();
    auto values = file->ReadFloat(key);
    EXPECT_TRUE(values.ok()) << key;
    return std::vector<float>(values->data(), values->data() + values->size());
  };
  std::map<std::string, std::vector<float>> m1, v1;
  std::map<std::string, torch::Tensor> sources;
  for (auto& [name, adapter] : SparseAdapters(*model)) {
    m1[name] = read("exp_avg:" + name + ".adapter.values");
    v1[name] = read("exp_avg_sq:" + name + ".adapter.values");
  }
  options.resume = true;
  options.before_step = [&](const StepContext& context) -> absl::StatusOr<ParameterRemap> {
    EXPECT_EQ(context.step, 1);
    ParameterRemap remap;
    for (auto& [name, adapter] : SparseAdapters(*model)) {
      // Keep every other entry, add as many entries outside the mask.
      std::set<int64_t> old = AsSet(adapter->indices), next;
      int64_t k = 0;
      for (int64_t i : old) if (k++ % 2 == 0) next.insert(i);
      for (int64_t i = 0; static_cast<int64_t>(next.size()) < adapter->nnz(); ++i) {
        if (!old.count(i)) next.insert(i);
      }
      sources[name] = adapter->SetMask(torch::tensor(std::vector<int64_t>(next.begin(), next.end())));
      remap[name + ".adapter.values"] = sources[name];
    }
    return remap;
  };
  options.after_backward = [](std::vector<torch::Tensor>& grads) {
    for (torch::Tensor& g : grads) g.zero_();
    return absl::OkStatus();
  };
  ASSERT_TRUE(Train(*model, data, options).ok());
  int64_t carried = 0, fresh = 0;
  for (auto& [name, adapter] : SparseAdapters(*model)) {
    const std::vector<float> m2 = read("exp_avg:" + name + ".adapter.values");
    const std::vector<float> v2 = read("exp_avg_sq:" + name + ".adapter.values");
    ASSERT_EQ(static_cast<int64_t>(m2.size()), adapter->nnz());
    for (int64_t j = 0; j < adapter->nnz(); ++j) {
      const int64_t from = sources[name][j].item<int64_t>();
      if (from < 0) {
        EXPECT_EQ(m2[j], 0.0f) << name << " new entry " << j;
        EXPECT_EQ(v2[j], 0.0f) << name << " new entry " << j;
        ++fresh;
      } else {
        EXPECT_FLOAT_EQ(m2[j], 0.9f * m1[name][from]) << name << " entry " << j;
        EXPECT_FLOAT_EQ(v2[j], 0.999f * v1[name][from]) << name << " entry " << j;
        carried += m1[name][from] != 0.0f;
      }
    }
  }
  EXPECT_GT(carried, 0);
  EXPECT_GT(fresh, 0);
}

TEST(SparseExpertTest, RoundTripThroughExpertAndLibraryFilesIsLossless) {
  SparseOptions sparse;
  sparse.keep_ratio = 0.1;
  sparse.block_size = 16;
  CausalLM model = SparseModel(sparse);
  ASSERT_TRUE(UpdateSparseMasks(*model, sparse, [&](int64_t i) { return CalibrationLoss(*model, i); }).ok());
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, adapter] : SparseAdapters(*model)) adapter->values.copy_(torch::randn_like(adapter->values));
  }
  const torch::Tensor ids = torch::randint(0, 260, {1, 7}, torch::kInt64);
  const torch::Tensor expected = model->forward(ids).detach();
  const std::vector<ExpertModule> expert = ExtractExpert(*model);
  ASSERT_EQ(expert.size(), 4u);
  const std::string dir = testing::TempDir("sparse_round_trip");
  ASSERT_TRUE(SaveExpert(dir + "/s.safetensors", expert, {{"task", "rev"}}).ok());

  auto library = ExpertLibrary::Create(dir + "/lib", "test", "tiny");
  ASSERT_TRUE(library.ok()) << library.status();
  ExpertRecord record;
  record.name = "s";
  record.type = AdapterType::kSparse;
  record.sparse.keep_ratio = 0.1;
  ASSERT_TRUE(library->AddFile(record, dir + "/s.safetensors").ok());
  auto stored = library->OpenExpertFile("s");
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto file = merge::ExpertFile::FromFile(*std::move(stored));
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<ExpertModule> loaded;
  for (const merge::ModuleEntry& entry : file->modules()) {
    auto delta = file->Load(entry);
    ASSERT_TRUE(delta.ok()) << delta.status();
    ASSERT_EQ(delta->kind, merge::ModuleDelta::Kind::kSparse);
    auto module = FromCoreDelta(entry.name, *delta);
    ASSERT_TRUE(module.ok()) << module.status();
    loaded.push_back(*module);
  }
  ASSERT_EQ(loaded.size(), expert.size());
  for (size_t m = 0; m < expert.size(); ++m) {
    EXPECT_EQ(loaded[m].module, expert[m].module);
    EXPECT_EQ(loaded[m].kind, ExpertModule::Kind::kSparse);
    EXPECT_EQ(loaded[m].sparse_shape, expert[m].sparse_shape);
    EXPECT_TRUE(torch::equal(loaded[m].sparse_indices, expert[m].sparse_indices)) << expert[m].module;
    EXPECT_TRUE(torch::equal(loaded[m].sparse_values, expert[m].sparse_values)) << expert[m].module;
  }
  auto direct = LoadExpert(dir + "/s.safetensors");
  ASSERT_TRUE(direct.ok()) << direct.status();
  CausalLM fresh = TinyModel();
  ASSERT_TRUE(ApplyExpert(*fresh, loaded, /*trainable=*/false).ok());
  EXPECT_TRUE(torch::equal(fresh->forward(ids).detach(), expected));
  EXPECT_TRUE(TrainableParameters(*fresh).empty());
}

TEST(SparseExpertTest, BadSparseDeltasAreRejected) {
  merge::ModuleDelta delta;
  delta.kind = merge::ModuleDelta::Kind::kSparse;
  delta.sparse = {{4, 4}, {3, 16}, {1.0f, 2.0f}};
  auto module = FromCoreDelta("m", delta);
  ASSERT_FALSE(module.ok());
  EXPECT_TRUE(absl::StrContains(module.status().message(), "sparse index 16 outside [0, 16)"));
  delta.sparse = {{4, 4}, {3, 3}, {1.0f, 2.0f}};
  module = FromCoreDelta("m", delta);
  ASSERT_FALSE(module.ok());
  EXPECT_TRUE(absl::StrContains(module.status().message(), "repeated sparse index"));
  delta.sparse = {{4, 4}, {3, 5}, {1.0f}};
  EXPECT_FALSE(FromCoreDelta("m", delta).ok());

  CausalLM model = TinyModel();
  ExpertModule wrong;
  wrong.module = "model.layers.0.self_attn.v_proj";
  wrong.kind = ExpertModule::Kind::kSparse;
  wrong.sparse_shape = {32, 32};
  wrong.sparse_indices = torch::tensor({0}, torch::kInt64);
  wrong.sparse_values = torch::tensor({1.0f});
  absl::Status applied = ApplyExpert(*model, {wrong}, false);
  ASSERT_FALSE(applied.ok());
  EXPECT_TRUE(absl::StrContains(applied.message(), "v_proj.sparse.shape\": expected [16, 32]"))
      << applied.message();
}

}  // namespace
}  // namespace libra::nn
