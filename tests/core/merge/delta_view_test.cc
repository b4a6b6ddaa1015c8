#include "src/core/merge/delta_view.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;
using testing::NaiveProduct;
using testing::RandomTensor;

TEST(LowRankProductTest, MatchesTripleLoopOnOddShapes) {
  // Sizes straddle the 4 x 16 tile so full and edge tiles are both used.
  for (auto [rows, rank, cols] : std::vector<std::array<int64_t, 3>>{
           {1, 1, 1}, {4, 3, 16}, {7, 5, 37}, {33, 16, 70}, {8, 128, 48}}) {
    Tensor b = RandomTensor({rows, rank}, 1);
    Tensor a = RandomTensor({rank, cols}, 2);
    std::vector<float> out(rows * cols, -1.0f);
    LowRankProduct(b.data(), a.data(), rows, rank, cols, 0.5f, out.data());
    EXPECT_TRUE(AllClose(out, NaiveProduct(b, a, 0.5f), 1e-5f, 1e-4f))
        << rows << "x" << rank << "x" << cols;
  }
}

TEST(DeltaViewTest, LoraRowsAreTheDeltaRows) {
  Tensor a = RandomTensor({3, 20}, 3), b = RandomTensor({11, 3}, 4);
  DeltaView view = DeltaView::Lora(a, b, 2.0f);
  ASSERT_EQ(view.rows, 11);
  ASSERT_EQ(view.cols, 20);
  const std::vector<float> full = NaiveProduct(b, a, 2.0f);
  std::vector<float> scratch(5 * 20);
  const float* rows = view.Rows(4, 9, scratch.data());
  EXPECT_TRUE(AllClose(std::vector<float>(rows, rows + 100),
                       std::vector<float>(full.begin() + 80, full.begin() + 180)));
}

TEST(DeltaViewTest, DenseRowsPointIntoTheTensor) {
  Tensor d = RandomTensor({6, 5}, 5);
  DeltaView view = DeltaView::Dense(d);
  EXPECT_EQ(view.Rows(2, 4, nullptr), d.data() + 10);
  Tensor vector = RandomTensor({7}, 6);
  DeltaView flat = DeltaView::Dense(vector);
  EXPECT_EQ(flat.rows, 1);
  EXPECT_EQ(flat.cols, 7);
}

}  // namespace
}  // namespace libra::merge
