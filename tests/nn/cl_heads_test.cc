#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include "src/nn/cl_heads.h"

#include "gtest/gtest.h"

namespace libra {
namespace {

TEST(ClHeadsTest, EveryNameBuildsItsHead) {
  for (const std::string& name : ClHeadNames()) {
    auto head = MakeClHead(name, 3, ClHeadOptions());
    ASSERT_TRUE(head.ok()) << name << ": " << head.status();
    EXPECT_EQ((*head)->name(), name);
    EXPECT_EQ((*head)->uses_replay(), name == "mlp") << name;
  }
}

TEST(ClHeadsTest, UnknownNameAndBadKAreErrors) {
  auto unknown = MakeClHead("svm", 3, ClHeadOptions());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("\"svm\""), std::string::npos);
  EXPECT_NE(unknown.status().message().find("slda"), std::string::npos);
  ClHeadOptions bad;
  bad.knn_k = 0;
  auto knn = MakeClHead("knn", 3, bad);
  ASSERT_FALSE(knn.ok());
  EXPECT_NE(knn.status().message().find("k must be > 0"), std::string::npos);
}

}  // namespace
}  // namespace libra
