#include "papers/common/progress.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace libra::papers {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  return s;
}

int CountChar(const std::string& s, char c) {
  int n = 0;
  for (char x : s) n += x == c;
  return n;
}

TEST(Progress, FormatLineShowsCountPercentElapsedAndEstimate) {
  EXPECT_EQ(Progress::FormatLine("train", 1, 4, 30.0, "task a"),
            "[train] 1/4  25% 0:30 elapsed, ~1:30 left  task a");
  EXPECT_EQ(Progress::FormatLine("x", 4, 4, 3725.0, ""), "[x] 4/4 100% 1:02:05 elapsed");
}

TEST(Progress, PlainModePrintsAtMostOncePerIntervalPlusTheEnd) {
  setenv("LIBRA_PROGRESS", "plain", 1);
  std::FILE* f = std::tmpfile();
  {
    Progress p("job", 100, f, /*interval_s=*/3600.0);
    EXPECT_FALSE(p.live());
    for (int i = 0; i < 100; ++i) p.Advance();
  }  // the destructor prints the final line
  std::string out = ReadAll(f);
  std::fclose(f);
  EXPECT_EQ(CountChar(out, '\n'), 2) << out;  // the first update and the final line
  EXPECT_THAT(out, HasSubstr("[job] 1/100"));
  EXPECT_THAT(out, HasSubstr("[job] 100/100 100%"));
  EXPECT_EQ(CountChar(out, '\r'), 0);
}

TEST(Progress, LiveModeRewritesOneLine) {
  setenv("LIBRA_PROGRESS", "live", 1);
  std::FILE* f = std::tmpfile();
  {
    Progress p("job", 3, f);
    EXPECT_TRUE(p.live());
    p.Advance("first long detail");
    p.Advance("b");
    p.Finish("done!");
  }
  std::string out = ReadAll(f);
  std::fclose(f);
  EXPECT_EQ(CountChar(out, '\r'), 3);
  EXPECT_EQ(CountChar(out, '\n'), 1);
  EXPECT_THAT(out, HasSubstr("done!"));
  unsetenv("LIBRA_PROGRESS");
}

}  // namespace
}  // namespace libra::papers
