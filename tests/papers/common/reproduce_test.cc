#include "papers/common/reproduce.h"

#include <cstdlib>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/core/io/atomic_file.h"

namespace libra::papers {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

TEST(ParseReproduceArgs, DefaultsAndBothFlagSpellings) {
  auto d = ParseReproduceArgs({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->scale, "quick");
  EXPECT_EQ(d->seeds, 3);
  EXPECT_TRUE(d->plots);
  auto o = ParseReproduceArgs({"--scale", "full", "--out=/tmp/x", "--seeds", "5", "--threads=2",
                               "--base_model", "/m", "--data=/d", "--cache_dir", "/c",
                               "--no_plots", "--device", "cuda:1"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->device, "cuda:1");
  EXPECT_EQ(d->device, "cpu");
  EXPECT_EQ(o->scale, "full");
  EXPECT_EQ(o->out, "/tmp/x");
  EXPECT_EQ(o->seeds, 5);
  EXPECT_EQ(o->threads, 2);
  EXPECT_EQ(o->base_model, "/m");
  EXPECT_EQ(o->data, "/d");
  EXPECT_EQ(o->cache_dir, "/c");
  EXPECT_FALSE(o->plots);
}

TEST(ReproduceArgs, ParseBackToTheSameOptions) {
  ReproduceOptions o;
  o.scale = "full";
  o.out = "/o";
  o.seeds = 4;
  o.threads = 1;
  o.cache_dir = "/c d";  // a space survives: no shell
  o.base_model = "/m";
  o.data = "/d";
  o.device = "cuda:0";
  o.plots = false;
  o.worker_index = 1;
  o.worker_count = 2;
  o.reselect = true;
  o.claims_only = true;  // a worker must list the same jobs as its parent
  auto back = ParseReproduceArgs(ReproduceArgs(o));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->scale, "full");
  EXPECT_EQ(back->out, "/o");
  EXPECT_EQ(back->seeds, 4);
  EXPECT_EQ(back->threads, 1);
  EXPECT_EQ(back->cache_dir, "/c d");
  EXPECT_EQ(back->base_model, "/m");
  EXPECT_EQ(back->data, "/d");
  EXPECT_EQ(back->device, "cuda:0");
  EXPECT_FALSE(back->plots);
  EXPECT_EQ(back->worker_index, 1);
  EXPECT_EQ(back->worker_count, 2);
  EXPECT_TRUE(back->reselect);
  EXPECT_TRUE(back->claims_only);
  // Defaults stay defaults: no --worker, no --out.
  auto plain = ParseReproduceArgs(ReproduceArgs(ReproduceOptions()));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->worker_count, 0);
  EXPECT_EQ(plain->out, "");
  EXPECT_TRUE(plain->plots);
  EXPECT_FALSE(plain->reselect);
  EXPECT_FALSE(plain->claims_only);
}

TEST(ParseReproduceArgs, RejectsBadFlagsNamingThem) {
  EXPECT_THAT(ParseReproduceArgs({"--scale", "huge"}).status().message(),
              HasSubstr("--scale: expected quick, standard or full, got \"huge\""));
  auto standard = ParseReproduceArgs({"--scale", "standard"});
  ASSERT_TRUE(standard.ok()) << standard.status();
  EXPECT_EQ(standard->scale, "standard");
  EXPECT_THAT(ParseReproduceArgs({"--seeds", "0"}).status().message(),
              HasSubstr("--seeds: expected a positive integer, got \"0\""));
  EXPECT_THAT(ParseReproduceArgs({"--seeds"}).status().message(), HasSubstr("--seeds needs a value"));
  EXPECT_THAT(ParseReproduceArgs({"--sedes=2"}).status().message(), HasSubstr("unknown flag --sedes"));
  EXPECT_THAT(ParseReproduceArgs({"stray"}).status().message(), HasSubstr("unexpected argument"));
  for (const char* worker : {"2/2", "1", "a/2", "0/0", "-1/2"}) {
    EXPECT_THAT(ParseReproduceArgs({"--worker", worker}).status().message(),
                HasSubstr("--worker: expected K/N with 0 <= K < N")) << worker;
  }
  for (const char* device : {"gpu", "cuda:", "cuda:x", "cuda:-1"}) {
    EXPECT_THAT(ParseReproduceArgs({"--device", device}).status().message(),
                HasSubstr("--device: expected cpu, cuda or cuda:N")) << device;
  }
}

// A paper whose metric is the seed itself: checks the driver hands the
// right seeds and writes every file.
absl::Status FakeRun(const RunContext& ctx, Results& r) {
  r.SetConfig(json{{"quick", ctx.quick()}});
  for (int s : ctx.seeds) {
    r.AddValue("seed_value", s, s);
    r.AddValue("zero", s, 0.0);
  }
  Claim c;
  c.id = "seed_positive";
  c.a = Quantity::Metric("seed_value");
  c.b = Quantity::Metric("zero");
  r.AddClaim(c);
  return absl::OkStatus();
}

TEST(Reproduce, WritesResultsAndReport) {
  std::string out = std::string(std::getenv("TEST_TMPDIR")) + "/fake_out";
  ReproduceOptions o;
  o.out = out;
  o.seeds = 4;
  o.plots = false;
  o.cache_dir = out + "/cache";
  auto doc = Reproduce({"fake", "Fake paper", &FakeRun}, o);
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto text = ReadFile(out + "/results.json");
  ASSERT_TRUE(text.ok());
  json j = json::parse(*text);
  EXPECT_EQ(j["seeds"], json::array({1, 2, 3, 4}));
  EXPECT_EQ(j["scale"], "quick");
  EXPECT_EQ(j["config"]["quick"], true);
  EXPECT_NEAR(j["metrics"]["seed_value"]["mean"].get<double>(), 2.5, 1e-12);
  EXPECT_GE(j["wall_time_s"].get<double>(), 0.0);
  EXPECT_FALSE(j["code_version"].get<std::string>().empty());
  EXPECT_FALSE(j["started_utc"].get<std::string>().empty());
  EXPECT_EQ(j["claims"][0]["verdict"], "reproduced");
  auto report = ReadFile(out + "/REPORT.md");
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(*report, HasSubstr("# Fake paper"));
  EXPECT_THAT(*report, HasSubstr("| `seed_positive` |"));
}

TEST(Reproduce, FullScaleNeedsAModelAndData) {
  ReproduceOptions o;
  o.scale = "full";
  auto doc = Reproduce({"fake", "Fake", &FakeRun}, o);
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.status().message(), HasSubstr("--base_model DIR and --data DIR"));
}

TEST(Reproduce, FullScaleOfAPaperWithoutACheckpointNeedsOnlyData) {
  PaperSpec spec{"fake", "Fake", &FakeRun};
  spec.full_scale_needs_base_model = false;
  ReproduceOptions o;
  o.scale = "full";
  o.plots = false;
  EXPECT_THAT(Reproduce(spec, o).status().message(), HasSubstr("--scale full needs --data DIR"));
  o.data = std::string(std::getenv("TEST_TMPDIR"));
  o.out = o.data + "/full_out";
  o.cache_dir = o.out + "/cache";
  auto doc = Reproduce(spec, o);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["scale"], "full");
}

// Without --out, another scale than quick writes beside the quick results.
TEST(Reproduce, StandardScaleWritesUnderResultsStandard) {
  const std::string workspace = std::string(std::getenv("TEST_TMPDIR")) + "/workspace";
  fs::create_directories(workspace);
  setenv("BUILD_WORKSPACE_DIRECTORY", workspace.c_str(), 1);
  ReproduceOptions o;
  o.scale = "standard";
  o.plots = false;
  o.cache_dir = workspace + "/cache";
  auto doc = Reproduce({"fake", "Fake", &FakeRun}, o);
  unsetenv("BUILD_WORKSPACE_DIRECTORY");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_TRUE(fs::exists(workspace + "/results/standard/fake/results.json"));
  EXPECT_FALSE(fs::exists(workspace + "/results/fake"));
}

TEST(Reproduce, PaperErrorsAreNamed) {
  ReproduceOptions o;
  o.out = std::string(std::getenv("TEST_TMPDIR")) + "/err_out";
  auto doc = Reproduce({"fake", "Fake",
                        [](const RunContext&, Results&) {
                          return absl::FailedPreconditionError("no data");
                        }},
                       o);
  EXPECT_THAT(doc.status().message(), HasSubstr("fake: no data"));
  EXPECT_FALSE(fs::exists(o.out + "/results.json"));
}

}  // namespace
}  // namespace libra::papers
