#include "papers/common/subprocess.h"

#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::papers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RunProgramsTogetherTest, ReturnsEachExitCodeInOrder) {
  auto codes = RunProgramsTogether({{"/bin/sh", "-c", "exit 3"}, {"/bin/true"}, {"/bin/false"}});
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_THAT(*codes, ElementsAre(3, 0, 1));
}

TEST(RunProgramsTogetherTest, RunsThemAtTheSameTime) {
  // Each program waits until the other has started, so run one after the
  // other they would deadlock; the timeout turns that into a failure.
  const std::string dir = std::string(getenv("TEST_TMPDIR"));
  const std::string a = dir + "/a", b = dir + "/b";
  auto wait_for = [](const std::string& mine, const std::string& other) {
    return std::vector<std::string>{
        "/bin/sh", "-c",
        "touch " + mine + "; for i in $(seq 100); do [ -e " + other + " ] && exit 0; sleep 0.05; done; exit 9"};
  };
  auto codes = RunProgramsTogether({wait_for(a, b), wait_for(b, a)});
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_THAT(*codes, ElementsAre(0, 0));
}

TEST(RunProgramsTogetherTest, AMissingProgramIsAnError) {
  auto codes = RunProgramsTogether({{"/bin/true"}, {"/no/such/program"}});
  ASSERT_FALSE(codes.ok());
  EXPECT_THAT(codes.status().message(), HasSubstr("cannot run /no/such/program"));
}

TEST(RunProgramTest, ExitCodeAndCapture) {
  auto code = RunProgram({"/bin/sh", "-c", "exit 4"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 4);
  auto out = CaptureProgram({"/bin/echo", "hi"});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "hi\n");
}

}  // namespace
}  // namespace libra::papers
