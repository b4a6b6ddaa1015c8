#include "papers/latent_replay/encoders.h"

#include <filesystem>

#include "gtest/gtest.h"

namespace libra::papers::latent_replay {
namespace {

TEST(EncodersTest, ForwardMacsByHand) {
  // conv 1->16 3x3 pad 1 on 28x28: 28*28*16*9 = 112896; pool -> 14x14;
  // conv 16->64: 14*14*64*16*9 = 1806336; pool -> 7x7; linear 64*49 -> 128:
  // 401408. Total 2320640.
  EXPECT_DOUBLE_EQ(EncoderForwardMacs(EncoderShape{16, 64, 128}), 2320640.0);
}

// Two classes of 28x28 images: a bright left half or a bright right half.
data::ImageSet Halves(int per_class) {
  data::ImageSet set;
  set.rows = set.cols = 28;
  for (int i = 0; i < 2 * per_class; ++i) {
    const int label = i % 2;
    for (int r = 0; r < 28; ++r) {
      for (int c = 0; c < 28; ++c) set.pixels.push_back((c < 14) == (label == 0) ? 0.9f : 0.05f);
    }
    set.labels.push_back(label);
  }
  return set;
}

std::string Dir(const std::string& name) {
  const std::string dir = std::string(testing::TempDir()) + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(EncodersTest, PretrainEncodeAndRawReplay) {
  const EncoderShape tiny{2, 4, 8};
  for (Pretraining kind : {Pretraining::kSupervised, Pretraining::kDenoisingAutoencoder,
                           Pretraining::kRandom}) {
    EncoderSpec spec{"tiny", kind, tiny, /*epochs=*/1, /*batch_size=*/8};
    const std::string dir = Dir("enc" + std::to_string(static_cast<int>(kind)));
    ASSERT_TRUE(PretrainEncoder(spec, Halves(8), 3, dir).ok());
    auto z = EncodeImages(spec, dir, Halves(3));
    ASSERT_TRUE(z.ok()) << z.status();
    EXPECT_EQ(z->rows(), 6);
    EXPECT_EQ(z->cols(), 8);
  }
  EncoderSpec spec{"tiny", Pretraining::kRandom, tiny};
  const std::string dir = Dir("raw");
  ASSERT_TRUE(PretrainEncoder(spec, Halves(4), 1, dir).ok());
  RawReplayOptions options;
  options.hidden = 16;
  options.epochs = 30;
  options.learning_rate = 1e-2;
  auto head = MakeRawReplayHead(spec, dir, options);
  ASSERT_TRUE(head.ok()) << head.status();
  const data::ImageSet images = Halves(8);
  const cl::LabeledFeatures train{ImagesAsRows(images), images.labels};
  ASSERT_TRUE((*head)->Learn(train).ok());
  EXPECT_EQ(cl::Accuracy((*head)->Predict(train.x), train.y), 1.0);
  // 3 x (encoder + head forward) x 16 images x 30 epochs.
  const double forward = EncoderForwardMacs(tiny) + 8 * 16 + 16 * 2;
  EXPECT_DOUBLE_EQ((*head)->training_macs(), 3.0 * forward * 16 * 30);
}

TEST(EncodersTest, BadInputsAreNamed) {
  EncoderSpec spec{"tiny", Pretraining::kRandom, EncoderShape{2, 4, 8}};
  auto missing = EncodeImages(spec, Dir("empty"), Halves(1));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("encoder.pt"), std::string::npos);
  data::ImageSet small;
  small.rows = small.cols = 5;
  small.pixels.assign(25, 0.0f);
  small.labels = {0};
  auto wrong = PretrainEncoder(spec, small, 1, Dir("small"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("5x5"), std::string::npos);
}

}  // namespace
}  // namespace libra::papers::latent_replay
