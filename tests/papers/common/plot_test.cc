// Runs papers/common/plot.py (Debian's python3-matplotlib) on a hand-written
// results.json and checks the images it writes.
#include <cstdlib>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "papers/common/reproduce.h"
#include "papers/common/subprocess.h"
#include "src/core/io/atomic_file.h"

namespace libra::papers {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

json Metric(double mean, double std) { return json{{"mean", mean}, {"std", std}}; }

std::string Write(const std::string& name, const json& doc) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name + ".json";
  EXPECT_TRUE(WriteFileAtomically(path, doc.dump()).ok());
  return path;
}

TEST(PlotPy, DrawsBarLineAndHeatmapAsPngAndSvg) {
  json doc = {
      {"metrics", {{"a", Metric(0.5, 0.1)}, {"b", Metric(0.7, 0.05)}, {"c", Metric(0.2, 0)}}},
      {"plots",
       {{{"id", "bars"}, {"kind", "bar"}, {"categories", {"x", "y"}},
         {"series", {{{"label", "s1"}, {"metrics", {"a", "b"}}},
                     {{"label", "s2"}, {"metrics", {"c", nullptr}}}}}},
        {{"id", "lines"}, {"kind", "line"}, {"x", {1, 2, 3}},
         {"series", {{{"label", "s"}, {"metrics", {"a", "b", "c"}}}}}},
        {{"id", "heat"}, {"kind", "heatmap"}, {"matrix", {{1, 0.5}, {0.5, 1}}},
         {"row_labels", {"p", "q"}}, {"col_labels", {"p", "q"}}, {"annotate", true}}}}};
  std::string path = Write("good", doc);
  std::string out = std::string(std::getenv("TEST_TMPDIR")) + "/plots";
  auto code = RunProgram({"/usr/bin/python3", RunfilePath("papers/common/plot.py"), path, "--out", out});
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0);
  for (const char* id : {"bars", "lines", "heat"}) {
    auto png = ReadFile(out + "/" + id + ".png");
    ASSERT_TRUE(png.ok()) << id;
    EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << id;
    auto svg = ReadFile(out + "/" + id + ".svg");
    ASSERT_TRUE(svg.ok()) << id;
    EXPECT_THAT(*svg, HasSubstr("<svg")) << id;
  }
  // The same results draw the same SVG (no dates, fixed ids).
  auto first = ReadFile(out + "/bars.svg");
  ASSERT_EQ(*RunProgram({"/usr/bin/python3", RunfilePath("papers/common/plot.py"), path, "--out", out}), 0);
  EXPECT_EQ(*ReadFile(out + "/bars.svg"), *first);
}

TEST(PlotPy, BadSpecsFailWithoutStoppingTheGoodOnes) {
  // One run (matplotlib starts slowly): two bad specs and a good one.
  json doc = {{"metrics", {{"a", Metric(0.5, 0.1)}}},
              {"plots",
               {{{"id", "unknown_metric"}, {"kind", "bar"}, {"categories", {"x"}},
                 {"series", {{{"label", "s"}, {"metrics", {"nope"}}}}}},
                {{"id", "unknown_kind"}, {"kind", "pie"}},
                {{"id", "fine"}, {"kind", "bar"}, {"categories", {"x"}},
                 {"series", {{{"label", "s"}, {"metrics", {"a"}}}}}}}}};
  std::string out = std::string(std::getenv("TEST_TMPDIR")) + "/bad_plots";
  auto code = RunProgram({"/usr/bin/python3", RunfilePath("papers/common/plot.py"),
                          Write("bad", doc), "--out", out});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_TRUE(fs::exists(out + "/fine.png"));
  EXPECT_FALSE(fs::exists(out + "/unknown_metric.png"));
  EXPECT_FALSE(fs::exists(out + "/unknown_kind.svg"));
}

TEST(PlotPy, LineBandShadesASecondSpreadAndIsChecked) {
  json doc = {
      {"metrics", {{"a", Metric(0.5, 0.1)}, {"b", Metric(0.7, 0.05)}, {"spread", Metric(0.08, 0.01)}}},
      {"plots",
       {{{"id", "plain"}, {"kind", "line"}, {"x", {1, 2}},
         {"series", {{{"label", "s"}, {"metrics", {"a", "b"}}}}}},
        {{"id", "banded"}, {"kind", "line"}, {"x", {1, 2}},
         {"series", {{{"label", "s"}, {"metrics", {"a", "b"}}, {"band", {"spread", nullptr}}}}}},
        {{"id", "short_band"}, {"kind", "line"}, {"x", {1, 2}},
         {"series", {{{"label", "s"}, {"metrics", {"a", "b"}}, {"band", {"spread"}}}}}},
        {{"id", "unknown_band"}, {"kind", "line"}, {"x", {1, 2}},
         {"series", {{{"label", "s"}, {"metrics", {"a", "b"}}, {"band", {"nope", nullptr}}}}}}}}};
  std::string out = std::string(std::getenv("TEST_TMPDIR")) + "/band_plots";
  auto code = RunProgram({"/usr/bin/python3", RunfilePath("papers/common/plot.py"),
                          Write("band", doc), "--out", out});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);  // the two bad bands
  auto plain = ReadFile(out + "/plain.svg");
  auto banded = ReadFile(out + "/banded.svg");
  ASSERT_TRUE(plain.ok() && banded.ok());
  // matplotlib draws fill_between as a PolyCollection.
  EXPECT_THAT(*banded, HasSubstr("PolyCollection"));
  EXPECT_THAT(*plain, ::testing::Not(HasSubstr("PolyCollection")));
  EXPECT_FALSE(fs::exists(out + "/short_band.svg"));
  EXPECT_FALSE(fs::exists(out + "/unknown_band.svg"));
}

}  // namespace
}  // namespace libra::papers
