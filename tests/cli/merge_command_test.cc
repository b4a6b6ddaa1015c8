// End-to-end tests of `libra merge`: the real binary on small expert files,
// results checked against formulas written here.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/run_command.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"

namespace libra {
namespace {

constexpr int64_t kOut = 8, kIn = 6, kRank = 2;

Tensor Random(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(shape[0] * shape[1]);
  for (float& v : values) v = uniform(rng);
  return Tensor(shape, values);
}

class MergeCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ + "/lib");
    // Experts a and b: modules m0 and m1, LoRA rank 2, alpha 4 (scale 2).
    for (int e = 0; e < 2; ++e) {
      SafetensorsWriter writer;
      for (int m = 0; m < 2; ++m) {
        const std::string module = "layers." + std::to_string(m) + ".q_proj";
        a_[e][m] = Random({kRank, kIn}, 10 * e + m);
        b_[e][m] = Random({kOut, kRank}, 100 + 10 * e + m);
        ASSERT_TRUE(writer.Add(module + ".lora_A.weight", a_[e][m]).ok());
        ASSERT_TRUE(writer.Add(module + ".lora_B.weight", b_[e][m]).ok());
      }
      writer.SetMetadata("lora_alpha", "4");
      ASSERT_TRUE(writer.WriteAtomically(Expert(e)).ok());
    }
  }

  std::string Expert(int e) const { return dir_ + "/lib/" + (e == 0 ? "a" : "b") + ".safetensors"; }

  CommandResult Libra(const std::string& args) const {
    return RunCommand("src/cli/libra merge " + args + " --threads=2 2>&1");
  }

  // scale * B A of expert e, module m.
  std::vector<float> Delta(int e, int m) const {
    std::vector<float> d(kOut * kIn, 0.0f);
    for (int64_t r = 0; r < kOut; ++r) {
      for (int64_t c = 0; c < kIn; ++c) {
        for (int64_t k = 0; k < kRank; ++k) {
          d[r * kIn + c] += 2.0f * b_[e][m].at(r * kRank + k) * a_[e][m].at(k * kIn + c);
        }
      }
    }
    return d;
  }

  static void ExpectNear(const std::vector<float>& a, const std::vector<float>& b, float tol) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << i;
  }

  std::string dir_;
  Tensor a_[2][2], b_[2][2];
};

TEST_F(MergeCommandTest, LinearFromLibraryFolderMatchesFormula) {
  CommandResult run = Libra(dir_ + "/lib --experts a,b --method linear --weights 0.25,2 --out-file " +
                  dir_ + "/out.safetensors");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "merged 2 experts (linear, mode delta): 2 modules"));
  SafetensorsFile out = *SafetensorsFile::Open(dir_ + "/out.safetensors");
  for (int m = 0; m < 2; ++m) {
    std::vector<float> expected(kOut * kIn);
    const std::vector<float> d0 = Delta(0, m), d1 = Delta(1, m);
    for (size_t j = 0; j < expected.size(); ++j) expected[j] = 0.25f * d0[j] + 2.0f * d1[j];
    ExpectNear(out.ReadFloat("layers." + std::to_string(m) + ".q_proj.delta.weight")->values(), expected, 1e-5f);
  }
  EXPECT_EQ(out.metadata().at("merge_sources"), "a,b");
}

TEST_F(MergeCommandTest, LibraryScalesFromRecordsAndOutNameAddsAnExpert) {
  // A library whose records give expert a alpha 8 (scale 4) and b alpha 2 (scale 1).
  const std::string lib = dir_ + "/library";
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(lib, "test", "tiny");
  ASSERT_TRUE(library.ok()) << library.status();
  for (int e = 0; e < 2; ++e) {
    ExpertRecord record;
    record.name = e == 0 ? "a" : "b";
    record.type = AdapterType::kLora;
    record.lora.alpha = e == 0 ? 8 : 2;
    record.tasks = {e == 0 ? "math" : "code"};
    ASSERT_TRUE(library->AddFile(record, Expert(e)).ok());
  }
  CommandResult run = Libra(lib + " --all --method linear --weights 1,3 --out merged --json");
  ASSERT_EQ(run.code, 0) << run.output;
  ASSERT_TRUE(library->Reload().ok());
  absl::StatusOr<ExpertRecord> merged = library->Show("merged");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->type, AdapterType::kDelta);
  ASSERT_TRUE(merged->merge.has_value());
  EXPECT_EQ(merged->merge->method, "linear");
  EXPECT_EQ(merged->merge->source_experts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(merged->merge->source_weights, (std::vector<double>{1.0, 3.0}));
  EXPECT_EQ(merged->tasks, (std::vector<std::string>{"math", "code"}));
  SafetensorsFile file = *library->OpenExpertFile("merged");
  std::vector<float> expected(kOut * kIn);
  const std::vector<float> d0 = Delta(0, 0), d1 = Delta(1, 0);  // computed with scale 2
  for (size_t j = 0; j < expected.size(); ++j) expected[j] = 2.0f * d0[j] + 3.0f * 0.5f * d1[j];
  ExpectNear(file.ReadFloat("layers.0.q_proj.delta.weight")->values(), expected, 1e-5f);
  for (const auto& entry : std::filesystem::directory_iterator(lib)) {
    EXPECT_FALSE(absl::StrContains(entry.path().string(), "libra-merge")) << "temporary left";
  }
  run = Libra(lib + " --experts a,b --method uniform --out merged");
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(absl::StrContains(run.output, "expert \"merged\" already exists")) << run.output;
}

TEST_F(MergeCommandTest, OutNameAddsToTheFolderOnceAndRecordsProvenance) {
  CommandResult run = Libra(dir_ + "/lib --all --method ties --density 0.5 --lambda 0.9 --out merged --json");
  ASSERT_EQ(run.code, 0) << run.output;
  const nlohmann::json report = nlohmann::json::parse(run.output);
  EXPECT_EQ(report["sources"], nlohmann::json({"a", "b"}));
  EXPECT_EQ(report["parameters"]["lambda"], 0.9);
  SafetensorsFile merged = *SafetensorsFile::Open(dir_ + "/lib/merged.safetensors");
  EXPECT_EQ(merged.metadata().at("merge_method"), "ties");
  const nlohmann::json parameters = nlohmann::json::parse(merged.metadata().at("merge_parameters"));
  EXPECT_EQ(parameters["density"], nlohmann::json({0.5, 0.5}));
  run = Libra(dir_ + "/lib --experts a,b --method ties --density 0.5 --out merged");
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(absl::StrContains(run.output, "expert \"merged\" already exists")) << run.output;
}

TEST_F(MergeCommandTest, BadArgumentsExitTwoAndWriteNothing) {
  struct Case {
    std::string args;
    const char* message;
  };
  const std::string out = " --out-file " + dir_ + "/never.safetensors";
  for (const Case& c : {
           Case{dir_ + "/lib --experts a,b --method tiez" + out, "unknown merge method \"tiez\" (known: linear"},
           Case{dir_ + "/lib --experts a,b --method ties --density 0" + out, "density 0 outside (0, 1]"},
           Case{dir_ + "/lib --experts a,b --method ties --density 1.5" + out, "density 1.5 outside (0, 1]"},
           Case{dir_ + "/lib --experts a,b --method linear --weights 1,2,3" + out,
                "3 values of \"weight\" for 2 experts"},
           Case{dir_ + "/lib --experts a,b --method linear --density 0.5" + out,
                "has no parameter \"density\""},
           Case{dir_ + "/lib --experts a,b --method ties --density 0.5 --mode ab" + out,
                "mode ab works only with linear and uniform"},
           Case{dir_ + "/lib --experts a,b --method linear --out-peft " + dir_ + "/peft",
                "--out-peft needs a LoRA result"},
           Case{dir_ + "/lib --experts a,b --method linear", "exactly one of --out"},
       }) {
    CommandResult run = Libra(c.args);
    EXPECT_EQ(run.code, 2) << c.args << "\n" << run.output;
    EXPECT_TRUE(absl::StrContains(run.output, c.message)) << run.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never.safetensors"));
}

TEST_F(MergeCommandTest, ShapeMismatchFailsAndLeavesNoFile) {
  SafetensorsWriter wide;
  ASSERT_TRUE(wide.Add("layers.0.q_proj.lora_A.weight", Random({kRank, kIn + 1}, 1)).ok());
  ASSERT_TRUE(wide.Add("layers.0.q_proj.lora_B.weight", Random({kOut, kRank}, 2)).ok());
  ASSERT_TRUE(wide.Add("layers.1.q_proj.lora_A.weight", Random({kRank, kIn}, 1)).ok());
  ASSERT_TRUE(wide.Add("layers.1.q_proj.lora_B.weight", Random({kOut, kRank}, 2)).ok());
  ASSERT_TRUE(wide.WriteAtomically(dir_ + "/wide.safetensors").ok());
  CommandResult run = Libra("--files " + Expert(0) + "," + dir_ + "/wide.safetensors --method uniform --out-file " +
                  dir_ + "/out.safetensors");
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(absl::StrContains(run.output, "has delta [8, 7], expected [8, 6]")) << run.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out.safetensors"));
}

TEST_F(MergeCommandTest, PeftExportOfAbMergeReloadsAsWritten) {
  CommandResult run = Libra(dir_ + "/lib --experts a,b --method uniform --mode ab --out-peft " + dir_ + "/peft");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "warning: mode ab averages LoRA A and B separately"));
  const nlohmann::json config =
      nlohmann::json::parse(*ReadFile(dir_ + "/peft/adapter_config.json"));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], kRank);
  EXPECT_EQ(config["lora_alpha"], kRank);  // scale 1: the experts' scale 2 is folded into B
  // Exact module names, as the library exporter writes: PEFT adapts these
  // layers and no others.
  EXPECT_EQ(config["target_modules"], nlohmann::json({"layers.0.q_proj", "layers.1.q_proj"}));
  SafetensorsFile adapter = *SafetensorsFile::Open(dir_ + "/peft/adapter_model.safetensors");
  for (int m = 0; m < 2; ++m) {
    const std::string name = "base_model.model.layers." + std::to_string(m) + ".q_proj";
    std::vector<float> a(kRank * kIn), b(kOut * kRank);
    for (size_t j = 0; j < a.size(); ++j) a[j] = 0.5f * (a_[0][m].at(j) + a_[1][m].at(j));
    for (size_t j = 0; j < b.size(); ++j) b[j] = 2.0f * 0.5f * (b_[0][m].at(j) + b_[1][m].at(j));
    ExpectNear(adapter.ReadFloat(name + ".lora_A.weight")->values(), a, 1e-6f);
    ExpectNear(adapter.ReadFloat(name + ".lora_B.weight")->values(), b, 1e-6f);
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ + "/peft"),
                          std::filesystem::directory_iterator{}), 2);
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_FALSE(absl::StrContains(entry.path().string(), "libra-merge")) << "temporary left";
  }
}

TEST_F(MergeCommandTest, PeftExportOfFullRankSvdReproducesTheLinearDelta) {
  CommandResult run = Libra(dir_ + "/lib --experts a,b --method linear --weights 1,-0.5 --mode svd --rank 4 "
                  "--out-peft " + dir_ + "/peft");
  ASSERT_EQ(run.code, 0) << run.output;
  SafetensorsFile adapter = *SafetensorsFile::Open(dir_ + "/peft/adapter_model.safetensors");
  for (int m = 0; m < 2; ++m) {
    const std::string name = "base_model.model.layers." + std::to_string(m) + ".q_proj";
    Tensor a = *adapter.ReadFloat(name + ".lora_A.weight");
    Tensor b = *adapter.ReadFloat(name + ".lora_B.weight");
    ASSERT_EQ(a.shape(), (Shape{4, kIn}));
    std::vector<float> product(kOut * kIn, 0.0f), expected(kOut * kIn);
    for (int64_t r = 0; r < kOut; ++r) {
      for (int64_t c = 0; c < kIn; ++c) {
        for (int64_t k = 0; k < 4; ++k) product[r * kIn + c] += b.at(r * 4 + k) * a.at(k * kIn + c);
      }
    }
    const std::vector<float> d0 = Delta(0, m), d1 = Delta(1, m);
    for (size_t j = 0; j < expected.size(); ++j) expected[j] = d0[j] - 0.5f * d1[j];
    ExpectNear(product, expected, 1e-4f);
  }
}

TEST_F(MergeCommandTest, YamlConfigEqualsTheSameMergeFromFlags) {
  std::ofstream(dir_ + "/merge.yaml") << "merge_method: dare_ties\n"
                                         "models:\n"
                                         "  - model: a\n"
                                         "    parameters: {weight: 1.0, density: 0.5}\n"
                                         "  - model: b\n"
                                         "    parameters: {weight: 2.0, density: 0.7}\n"
                                         "parameters: {lambda: 0.5, seed: 3}\n";
  CommandResult yaml = Libra(dir_ + "/lib --config " + dir_ + "/merge.yaml --out-file " + dir_ + "/yaml.safetensors");
  ASSERT_EQ(yaml.code, 0) << yaml.output;
  CommandResult flags = Libra(dir_ + "/lib --experts a,b --method dare_ties --weights 1,2 --density 0.5,0.7 "
                    "--lambda 0.5 --seed 3 --out-file " + dir_ + "/flags.safetensors");
  ASSERT_EQ(flags.code, 0) << flags.output;
  EXPECT_EQ(*ReadFile(dir_ + "/yaml.safetensors"), *ReadFile(dir_ + "/flags.safetensors"));
  CommandResult mixed = Libra(dir_ + "/lib --config " + dir_ + "/merge.yaml --method ties --out-file " + dir_ + "/x.safetensors");
  EXPECT_EQ(mixed.code, 2);
  EXPECT_TRUE(absl::StrContains(mixed.output, "--config replaces --method")) << mixed.output;
}

}  // namespace
}  // namespace libra
