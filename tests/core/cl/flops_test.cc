#include "src/core/cl/flops.h"

#include "gtest/gtest.h"

namespace libra::cl {
namespace {

TEST(FlopsTest, SmallCnnAgainstHandCount) {
  // 1x28x28 -> conv 3x3 pad 1 to 4 channels: 28*28 outputs * 4 * 1 * 9 = 28224
  // -> pool 2 -> 4x14x14 -> conv 3x3 no pad stride 2 to 6: (14-3)/2+1 = 6,
  //    6*6 * 6 * 4 * 9 = 7776 -> flatten 216 -> linear 216x10 = 2160.
  // Total 28224 + 7776 + 2160 = 38160 multiply-adds.
  std::vector<LayerShape> net = {Conv2dShape(1, 4, 3, 1, 1), MaxPoolShape(2),
                                 Conv2dShape(4, 6, 3, 2, 0), FlattenShape(),
                                 LinearShape(216, 10)};
  auto macs = ForwardMacs(net, {1, 28, 28});
  ASSERT_TRUE(macs.ok()) << macs.status();
  EXPECT_DOUBLE_EQ(*macs, 38160.0);
  // Training: forward + backward (2 x forward) per sample, 50 samples.
  EXPECT_DOUBLE_EQ(TrainingMacs(*macs, 50), 3 * 38160.0 * 50);
}

TEST(FlopsTest, MlpHead) {
  // The paper's head on 128 features, 10 classes: 128*1024 + 1024*10.
  auto macs = ForwardMacs({LinearShape(128, 1024), LinearShape(1024, 10)}, {128});
  ASSERT_TRUE(macs.ok());
  EXPECT_DOUBLE_EQ(*macs, 141312.0);
}

TEST(FlopsTest, MismatchNamesTheLayer) {
  auto bad = ForwardMacs({LinearShape(10, 5), LinearShape(6, 2)}, {10});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("layer 1"), std::string::npos) << bad.status();
  EXPECT_FALSE(ForwardMacs({Conv2dShape(3, 4, 3, 1, 0)}, {1, 28, 28}).ok());
  EXPECT_FALSE(ForwardMacs({Conv2dShape(1, 4, 5, 1, 0)}, {1, 3, 3}).ok());
}

}  // namespace
}  // namespace libra::cl
