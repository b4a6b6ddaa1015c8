#include "papers/common/config_override.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace libra::papers {
namespace {

struct Small {
  int steps = 10;
  double lr = 0.5;
  std::string name = "a";
  std::vector<std::string> targets = {"q"};
  NLOHMANN_DEFINE_TYPE_INTRUSIVE_WITH_DEFAULT(Small, steps, lr, name, targets)
};

TEST(ConfigOverrideTest, OverridesOnlyTheGivenFields) {
  Small c;
  ASSERT_TRUE(OverrideConfig(c, {{"steps", 3}, {"targets", {"k", "v"}}}, "small").ok());
  EXPECT_EQ(c.steps, 3);
  EXPECT_EQ(c.targets, (std::vector<std::string>{"k", "v"}));
  EXPECT_EQ(c.lr, 0.5);
  EXPECT_EQ(c.name, "a");
  ASSERT_TRUE(OverrideConfig(c, {{"lr", 2}}, "small").ok());  // a real field takes an integer
  EXPECT_EQ(c.lr, 2.0);
}

TEST(ConfigOverrideTest, RejectsUnknownFieldsWrongTypesAndOverflowLeavingConfigUnchanged) {
  Small c;
  const struct {
    nlohmann::json o;
    std::string message;
  } cases[] = {
      {{{"step", 3}}, "small: unknown field \"step\""},
      {{{"steps", 3.5}}, "small: field \"steps\" must be number, got 3.5"},
      {{{"steps", 3.0}}, "small: field \"steps\" must be number, got 3.0"},
      {{{"name", 1}}, "small: field \"name\" must be string, got 1"},
      {{{"targets", "q"}}, "small: field \"targets\" must be a list of strings, got \"q\""},
      {{{"targets", {1}}}, "small: field \"targets\" must be a list of strings, got [1]"},
      {{{"steps", int64_t{1} << 40}}, "small: field \"steps\" cannot hold 1099511627776"},
      {nlohmann::json::array(), "small: not a JSON object"},
  };
  for (const auto& bad : cases) {
    absl::Status s = OverrideConfig(c, bad.o, "small");
    EXPECT_EQ(s.message(), bad.message) << bad.o.dump();
    EXPECT_EQ(c.steps, 10);
  }
}

TEST(ConfigOverrideTest, FromEnvironmentNamesTheVariable) {
  Small c;
  unsetenv("LIBRA_TEST_SMALL_CONFIG");
  ASSERT_TRUE(OverrideConfigFromEnvironment(c, "LIBRA_TEST_SMALL_CONFIG").ok());
  EXPECT_EQ(c.steps, 10);
  setenv("LIBRA_TEST_SMALL_CONFIG", R"({"steps": 4})", 1);
  ASSERT_TRUE(OverrideConfigFromEnvironment(c, "LIBRA_TEST_SMALL_CONFIG").ok());
  EXPECT_EQ(c.steps, 4);
  setenv("LIBRA_TEST_SMALL_CONFIG", "{not json", 1);
  EXPECT_EQ(OverrideConfigFromEnvironment(c, "LIBRA_TEST_SMALL_CONFIG").message(),
            "LIBRA_TEST_SMALL_CONFIG: not a JSON object");
  setenv("LIBRA_TEST_SMALL_CONFIG", R"({"seps": 4})", 1);
  EXPECT_EQ(OverrideConfigFromEnvironment(c, "LIBRA_TEST_SMALL_CONFIG").message(),
            "LIBRA_TEST_SMALL_CONFIG: unknown field \"seps\"");
  EXPECT_EQ(c.steps, 4);
}

}  // namespace
}  // namespace libra::papers
