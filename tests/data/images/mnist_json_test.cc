#include "src/data/images/mnist_json.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace libra::data {
namespace {

// A package folder with `images_per_digit` images of digit d, every pixel
// d / 10, and `bad_file` (if >= 0) replaced by `bad_text`.
std::string WritePackage(const std::string& name, int images_per_digit, int bad_file = -1,
                         const std::string& bad_text = "") {
  const std::string dir = std::string(testing::TempDir()) + "/" + name;
  std::filesystem::create_directories(dir + "/src/digits");
  for (int d = 0; d < 10; ++d) {
    std::ofstream out(dir + "/src/digits/" + std::to_string(d) + ".json");
    if (d == bad_file) {
      out << bad_text;
      continue;
    }
    out << "{\"data\": [";
    for (int i = 0; i < images_per_digit * 784; ++i) out << (i ? "," : "") << d / 10.0;
    out << "]}";
  }
  return dir;
}

TEST(MnistJsonTest, ReadsDigitsClassByClass) {
  auto set = ReadMnistDigits(WritePackage("good", 2));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->size(), 20);
  EXPECT_EQ(set->rows, 28);
  EXPECT_EQ(set->labels[0], 0);
  EXPECT_EQ(set->labels[3], 1);
  EXPECT_EQ(set->labels[19], 9);
  EXPECT_FLOAT_EQ(set->Image(19)[783], 0.9f);
}

TEST(MnistJsonTest, ErrorsNameTheFile) {
  auto ragged = ReadMnistDigits(WritePackage("ragged", 1, 4, "{\"data\": [0, 0.5]}"));
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.status().message().find("4.json"), std::string::npos) << ragged.status();
  EXPECT_NE(ragged.status().message().find("multiple of 784"), std::string::npos);
  auto range = ReadMnistDigits(WritePackage("range", 1, 2, "{\"data\": [" +
                                                            std::string(783 * 2, ' ') + "]}"));
  ASSERT_FALSE(range.ok());
  auto garbage = ReadMnistDigits(WritePackage("garbage", 1, 7, "not json"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("7.json"), std::string::npos);
  auto missing = ReadMnistDigits(std::string(testing::TempDir()) + "/no_package");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no_package"), std::string::npos);
}

}  // namespace
}  // namespace libra::data
