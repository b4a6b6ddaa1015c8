// Mask statistics against direct std::set computations on small hand-made
// masks.
#include "src/core/merge/mask_overlap.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "absl/strings/match.h"

namespace libra::merge {
namespace {

SparseDelta Mask(Shape shape, std::vector<int64_t> indices) {
  std::vector<float> values(indices.size(), 1.0f);
  return SparseDelta{std::move(shape), std::move(indices), std::move(values)};
}

std::set<int64_t> Set(const SparseDelta& m) { return {m.indices.begin(), m.indices.end()}; }

TEST(MaskOverlapTest, JaccardOfTwoMasks) {
  // A = {0, 3, 5, 9}, B = {9, 1, 3}: A n B = {3, 9}, A u B = {0, 1, 3, 5, 9}.
  auto overlap = CompareMasks(Mask({3, 4}, {5, 0, 9, 3}), Mask({3, 4}, {9, 1, 3}));
  ASSERT_TRUE(overlap.ok()) << overlap.status();
  EXPECT_EQ(overlap->intersection, 2);
  EXPECT_EQ(overlap->union_size, 5);
  EXPECT_DOUBLE_EQ(overlap->jaccard(), 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(CompareMasks(Mask({2, 2}, {}), Mask({2, 2}, {}))->jaccard(), 1.0);
  EXPECT_DOUBLE_EQ(CompareMasks(Mask({2, 2}, {0}), Mask({2, 2}, {1}))->jaccard(), 0.0);
}

TEST(MaskOverlapTest, BadMasksAreRejected) {
  auto shape = CompareMasks(Mask({3, 4}, {0}), Mask({4, 3}, {0}));
  ASSERT_FALSE(shape.ok());
  EXPECT_TRUE(absl::StrContains(shape.status().message(), "mask shapes differ: [3, 4] and [4, 3]"))
      << shape.status();
  auto range = CompareMasks(Mask({2, 2}, {4}), Mask({2, 2}, {0}));
  ASSERT_FALSE(range.ok());
  EXPECT_TRUE(absl::StrContains(range.status().message(), "mask index 4 outside [0, 4)"));
  auto repeated = MaskOverlapByModule({{"m", Mask({2, 2}, {1, 1})}}, {{"m", Mask({2, 2}, {0})}});
  ASSERT_FALSE(repeated.ok());
  EXPECT_TRUE(absl::StrContains(repeated.status().message(), "module \"m\": mask index 1 repeated"));
  auto growth = OverlapGrowth({ExpertMasks{{"m", Mask({2, 2}, {0})}}, ExpertMasks{{"m", Mask({1, 4}, {0})}}});
  ASSERT_FALSE(growth.ok());
  EXPECT_TRUE(absl::StrContains(growth.status().message(), "expert 1 module \"m\": mask shape [1, 4]"));
}

TEST(MaskOverlapTest, PerModuleAndPerLayer) {
  ExpertMasks a = {{"model.layers.0.self_attn.q_proj", Mask({4, 4}, {0, 1, 2, 3})},
                   {"model.layers.0.self_attn.v_proj", Mask({4, 4}, {5, 6})},
                   {"model.layers.1.self_attn.q_proj", Mask({4, 4}, {15})},
                   {"lm_head", Mask({2, 2}, {0})}};
  ExpertMasks b = {{"model.layers.0.self_attn.q_proj", Mask({4, 4}, {2, 3, 4})},
                   {"model.layers.0.self_attn.v_proj", Mask({4, 4}, {6})},
                   {"model.layers.1.self_attn.q_proj", Mask({4, 4}, {14})},
                   {"model.layers.2.self_attn.q_proj", Mask({4, 4}, {1})}};
  auto modules = MaskOverlapByModule(a, b);
  ASSERT_TRUE(modules.ok()) << modules.status();
  ASSERT_EQ(modules->size(), 3u);  // modules both have
  for (const ModuleOverlap& m : *modules) {
    std::set<int64_t> x = Set(a.at(m.module)), y = Set(b.at(m.module)), inter, uni = x;
    for (int64_t i : y) {
      if (x.count(i)) inter.insert(i);
      uni.insert(i);
    }
    EXPECT_EQ(m.overlap.intersection, static_cast<int64_t>(inter.size())) << m.module;
    EXPECT_EQ(m.overlap.union_size, static_cast<int64_t>(uni.size())) << m.module;
  }
  const std::vector<LayerOverlap> layers = OverlapByLayer(*modules);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].layer, 0);
  // Layer 0: q {2,3} of {0..4}, v {6} of {5,6}: 3 / 7.
  EXPECT_EQ(layers[0].overlap.intersection, 3);
  EXPECT_EQ(layers[0].overlap.union_size, 7);
  EXPECT_EQ(layers[1].layer, 1);
  EXPECT_DOUBLE_EQ(layers[1].overlap.jaccard(), 0.0);
  EXPECT_EQ(LayerOfModule("model.layers.12.mlp.up_proj"), 12);
  EXPECT_EQ(LayerOfModule("transformer.h.3.attn"), -1);
  EXPECT_EQ(LayerOfModule("model.sublayers.4.x"), -1);
}

TEST(MaskOverlapTest, GrowthCurveEqualsDirectCoverCounts) {
  std::mt19937 rng(7);
  const std::vector<std::pair<std::string, Shape>> modules = {{"q", {6, 5}}, {"v", {3, 8}}};
  std::vector<ExpertMasks> experts;
  for (int e = 0; e < 6; ++e) {
    ExpertMasks expert;
    for (const auto& [name, shape] : modules) {
      if (e == 2 && name == "v") continue;  // an expert without one module
      std::set<int64_t> chosen;
      while (chosen.size() < 6) chosen.insert(rng() % (shape[0] * shape[1]));
      std::vector<int64_t> indices(chosen.rbegin(), chosen.rend());  // descending: order free
      expert[name] = Mask(shape, indices);
    }
    experts.push_back(expert);
  }
  auto curve = OverlapGrowth(experts);
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_EQ(curve->size(), experts.size());
  std::map<std::pair<std::string, int64_t>, int> cover;
  for (size_t n = 0; n < experts.size(); ++n) {
    for (const auto& [name, mask] : experts[n]) {
      for (int64_t i : mask.indices) ++cover[{name, i}];
    }
    int64_t shared = 0;
    for (const auto& [entry, count] : cover) shared += count >= 2;
    const OverlapGrowthPoint& p = (*curve)[n];
    EXPECT_EQ(p.experts, static_cast<int64_t>(n + 1));
    EXPECT_EQ(p.union_size, static_cast<int64_t>(cover.size())) << n;
    EXPECT_EQ(p.shared, shared) << n;
    EXPECT_EQ(p.total, 30 + 24);
    EXPECT_DOUBLE_EQ(p.shared_fraction(), static_cast<double>(shared) / cover.size());
    EXPECT_DOUBLE_EQ(p.union_fraction(), static_cast<double>(cover.size()) / 54.0);
  }
  EXPECT_EQ((*curve)[0].shared, 0);
  EXPECT_GT(curve->back().shared, 0);
}

}  // namespace
}  // namespace libra::merge
