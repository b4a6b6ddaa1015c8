#include "src/data/images/transforms.h"

#include "gtest/gtest.h"

namespace libra::data {
namespace {

// One 3x3 image 0..8 (scaled by 1/8), label 5.
ImageSet Ramp() {
  ImageSet set;
  set.rows = set.cols = 3;
  for (int i = 0; i < 9; ++i) set.pixels.push_back(i / 8.0f);
  set.labels = {5};
  return set;
}

TEST(TransformsTest, InvertAndRotateByHand) {
  ImageSet inverted = TransformImages(Ramp(), ImageTransform::kInvert, 0);
  EXPECT_FLOAT_EQ(inverted.pixels[0], 1.0f);
  EXPECT_FLOAT_EQ(inverted.pixels[8], 0.0f);
  EXPECT_EQ(inverted.labels, std::vector<int>{5});
  // 0 1 2 / 3 4 5 / 6 7 8 turned clockwise is 6 3 0 / 7 4 1 / 8 5 2.
  ImageSet rotated = TransformImages(Ramp(), ImageTransform::kRotate90, 0);
  const std::vector<int> want = {6, 3, 0, 7, 4, 1, 8, 5, 2};
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(rotated.pixels[i] * 8.0f, want[i]) << i;
}

TEST(TransformsTest, NoiseIsSeededAndClipped) {
  ImageSet a = TransformImages(Ramp(), ImageTransform::kNoise, 7);
  ImageSet b = TransformImages(Ramp(), ImageTransform::kNoise, 7);
  ImageSet c = TransformImages(Ramp(), ImageTransform::kNoise, 8);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_NE(a.pixels, c.pixels);
  for (float p : a.pixels) {
    EXPECT_GE(p, 0.0f);
    EXPECT_LE(p, 1.0f);
  }
}

TEST(TransformsTest, ParsesNamesAndRejectsUnknown) {
  auto t = ParseImageTransform("rotate90");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, ImageTransform::kRotate90);
  auto bad = ParseImageTransform("blur");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("blur"), std::string::npos);
}

TEST(ImageSetTest, TakePerClassSkipsAndCaps) {
  ImageSet set;
  set.rows = set.cols = 1;
  set.labels = {0, 1, 0, 1, 0, 2, 0};
  for (int i = 0; i < 7; ++i) set.pixels.push_back(i / 10.0f);
  ImageSet taken = TakePerClass(set, 2, /*skip_per_class=*/1, /*per_class=*/2);
  // Class 0 at 0, 2, 4, 6 keeps 2 and 4; class 1 at 1, 3 keeps 3; class 2 is
  // outside. Order is the set's: 2, 3, 4.
  EXPECT_EQ(taken.labels, (std::vector<int>{0, 1, 0}));
  EXPECT_FLOAT_EQ(taken.pixels[0], 0.2f);
  EXPECT_FLOAT_EQ(taken.pixels[1], 0.3f);
  EXPECT_FLOAT_EQ(taken.pixels[2], 0.4f);
}

TEST(ImageSetTest, FewestPerClassCountsTheRarestLabel) {
  ImageSet set;
  set.rows = set.cols = 1;
  set.labels = {0, 1, 0, 1, 0, 2, 0, 5};
  set.pixels.assign(set.labels.size(), 0.0f);
  EXPECT_EQ(FewestPerClass(set, 2), 2);  // label 1 twice; 2 and 5 are outside
  EXPECT_EQ(FewestPerClass(set, 3), 1);  // label 2 once
  EXPECT_EQ(FewestPerClass(set, 4), 0);  // label 3 absent
}

}  // namespace
}  // namespace libra::data
