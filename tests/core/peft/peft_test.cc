#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_library.h"
#include "src/core/peft/peft_export.h"
#include "src/core/peft/peft_import.h"
#include "src/core/peft/peft_pattern.h"
#include "tests/core/library/test_util.h"
#include "tools/peft_fixture.h"

namespace libra {
namespace {

using ::libra::testing::NewTempDir;
using ::libra::testing::Slurp;

std::string RunCommand(const std::string& command) {
  std::FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[256];
  while (pipe != nullptr && std::fgets(buffer, sizeof(buffer), pipe)) out += buffer;
  if (pipe != nullptr) pclose(pipe);
  return out;
}

PeftFixture Fixture(DType dtype, uint64_t seed) {
  PeftFixture fixture;
  fixture.modules = LlamaAttentionModules(3, 16);
  fixture.modules.push_back({"model.layers.0.mlp.down_proj", 12, 20});
  fixture.rank = 4;
  fixture.alpha = 8;
  fixture.dtype = dtype;
  fixture.seed = seed;
  return fixture;
}

// Bit-level comparison of every tensor of two safetensors files, with the
// export's "base_model.model." prefix.
void ExpectSameTensors(const std::string& original_path, const std::string& exported_path) {
  absl::StatusOr<SafetensorsFile> original = SafetensorsFile::Open(original_path);
  absl::StatusOr<SafetensorsFile> exported = SafetensorsFile::Open(exported_path);
  ASSERT_TRUE(original.ok() && exported.ok());
  ASSERT_EQ(original->tensors().size(), exported->tensors().size());
  for (const TensorInfo& info : original->tensors()) {
    const TensorInfo* other = exported->Find(info.name);
    ASSERT_NE(other, nullptr) << info.name;
    EXPECT_EQ(other->dtype, info.dtype) << info.name;
    EXPECT_EQ(other->shape, info.shape) << info.name;
    absl::Span<const uint8_t> a = original->RawBytes(info);
    absl::Span<const uint8_t> b = exported->RawBytes(*other);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << info.name;
  }
}

class PeftRoundTripTest : public ::testing::TestWithParam<DType> {};

TEST_P(PeftRoundTripTest, ImportExportIsBitExact) {
  const std::string root = NewTempDir("peft");
  PeftFixture fixture = Fixture(GetParam(), 5);
  fixture.use_rslora = true;
  // Per-module ranks and alphas, keyed the ways PEFT users write them.
  fixture.rank_pattern = {{"layers.1.self_attn.v_proj", 8}, {"down_proj", 2}};
  fixture.alpha_pattern = {{"q_proj", 32}};
  ASSERT_TRUE(WritePeftFixture(root + "/in", fixture).ok());

  absl::StatusOr<PeftImport> adapter = ReadPeftAdapter(root + "/in");
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ(adapter->record.lora.rank, 4);
  EXPECT_TRUE(adapter->record.lora.use_rslora);
  EXPECT_EQ(adapter->record.lora.module_rank,
            (std::map<std::string, int32_t>{{"model.layers.1.self_attn.v_proj", 8}, {"model.layers.0.mlp.down_proj", 2}}));
  EXPECT_EQ(adapter->record.lora.module_alpha.size(), 3u);
  EXPECT_EQ(adapter->record.lora.module_alpha.at("model.layers.2.self_attn.q_proj"), 32);
  // Per-module alphas cannot go in the file's metadata, so none is written.
  EXPECT_EQ(SafetensorsFile::FromBytes(adapter->file_bytes, "x")->metadata().count("lora_alpha"), 0u);

  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(root + "/lib", "l", "tiny-base");
  ASSERT_TRUE(library.ok());
  adapter->record.name = "a";
  ASSERT_TRUE(library->Add(adapter->record, adapter->file_bytes).ok());
  absl::StatusOr<ExpertWeights> weights = library->LoadExpert("a");
  ASSERT_TRUE(weights.ok()) << weights.status();
  // rsLoRA: alpha / sqrt(r), with the module's own rank and alpha.
  EXPECT_DOUBLE_EQ(weights->lora.at("model.layers.1.self_attn.v_proj").scale, 8 / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(weights->lora.at("model.layers.1.self_attn.q_proj").scale, 32 / std::sqrt(4.0));
  EXPECT_DOUBLE_EQ(weights->lora.at("model.layers.0.mlp.down_proj").scale, 8 / std::sqrt(2.0));

  ASSERT_TRUE(ExportPeftAdapter(*library, "a", root + "/out").ok());
  ExpectSameTensors(root + "/in/adapter_model.safetensors", root + "/out/adapter_model.safetensors");
  nlohmann::json config = nlohmann::json::parse(Slurp(root + "/out/adapter_config.json"));
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8);
  EXPECT_EQ(config["use_rslora"], true);
  EXPECT_EQ(config["target_modules"], nlohmann::json({"q_proj", "v_proj"}));
  EXPECT_EQ(config["base_model_name_or_path"], "tiny-base");

  // Re-importing the export gives the same expert.
  absl::StatusOr<PeftImport> again = ReadPeftAdapter(root + "/out");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->file_bytes, adapter->file_bytes);
  EXPECT_EQ(again->record.lora.module_rank, adapter->record.lora.module_rank);
  EXPECT_EQ(again->record.lora.module_alpha, adapter->record.lora.module_alpha);

  // PEFT's own matching rules, run by Python, give every module its rank and alpha.
  nlohmann::json expected;
  for (const PeftFixtureModule& module : fixture.modules) {
    const bool q = module.name.find("q_proj") != std::string::npos;
    expected[module.name] = {{"rank", FixtureRank(fixture, module.name)}, {"alpha", q ? 32 : 8}};
  }
  std::ofstream(root + "/expected.json") << expected.dump();
  EXPECT_EQ(RunCommand("/usr/bin/python3 tests/core/peft/check_peft_export.py " + root + "/out " + root +
                       "/expected.json 2>&1"),
            "OK\n");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PeftRoundTripTest, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(PeftImportTest, RejectsWhatWouldImportWrongly) {
  const std::string root = NewTempDir("reject");
  struct Case {
    nlohmann::ordered_json extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"use_dora", true}}, "DoRA adapters (use_dora: true) are not supported"},
      {{{"peft_type", "IA3"}}, "peft_type \"IA3\" is not supported"},
      {{{"fan_in_fan_out", true}}, "fan_in_fan_out"},
      {{{"bias", "all"}}, "trained biases"},
      {{{"modules_to_save", {"lm_head"}}}, "modules_to_save"},
      {{{"r", 8}}, "expected rank 8 from adapter_config.json"},
      {{{"rank_pattern", {{"q_pro(", 2}}}}, "not a valid regular expression"},
      // Fields of the wrong type once escaped as nlohmann exceptions; huge
      // ranks were cast to int32 (undefined behaviour).
      {{{"use_dora", "yes"}}, "use_dora: expected true or false, got \"yes\""},
      {{{"use_rslora", 1}}, "use_rslora: expected true or false"},
      {{{"lora_bias", "no"}}, "lora_bias: expected true or false"},
      {{{"peft_type", 7}}, "peft_type \"7\" is not supported"},
      {{{"r", "4"}}, "r: expected a number"},
      {{{"r", 1e300}}, "r must be a positive integer of at most"},
      {{{"r", 2.5}}, "r must be a positive integer"},
      {{{"lora_alpha", "16"}}, "lora_alpha: expected a number"},
      {{{"rank_pattern", {{"q_proj", 1e12}}}}, "rank_pattern[\"q_proj\"] must be a positive integer"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    PeftFixture fixture = Fixture(DType::kF32, i);
    fixture.extra_config = cases[i].extra;
    const std::string dir = root + "/case" + std::to_string(i);
    ASSERT_TRUE(WritePeftFixture(dir, fixture).ok());
    absl::StatusOr<PeftImport> adapter = ReadPeftAdapter(dir);
    EXPECT_EQ(adapter.status().code(), absl::StatusCode::kInvalidArgument) << cases[i].message;
    EXPECT_NE(adapter.status().message().find(cases[i].message), std::string::npos) << adapter.status();
    EXPECT_NE(adapter.status().message().find(dir), std::string::npos) << adapter.status();
  }
}

TEST(PeftImportTest, RejectsForeignTensorsAndPickles) {
  const std::string root = NewTempDir("foreign");
  ASSERT_TRUE(WritePeftFixture(root + "/a", Fixture(DType::kF32, 1)).ok());
  absl::StatusOr<PeftImport> plain = ReadPeftAdapter(root + "/a");
  ASSERT_TRUE(plain.ok()) << plain.status();
  absl::StatusOr<SafetensorsFile> renamed = SafetensorsFile::FromBytes(plain->file_bytes, "x");
  EXPECT_EQ(renamed->metadata().at("lora_alpha"), "8");
  EXPECT_EQ(renamed->metadata().at("use_rslora"), "false");
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("base_model.model.lm_head.modules_to_save.default.weight", Tensor::Zeros({2, 2})).ok());
  ASSERT_TRUE(writer.WriteAtomically(root + "/a/adapter_model.safetensors").ok());
  absl::StatusOr<PeftImport> adapter = ReadPeftAdapter(root + "/a");
  EXPECT_NE(adapter.status().message().find("only base_model.model.<module>.lora_A.weight"), std::string::npos)
      << adapter.status();

  ASSERT_TRUE(WritePeftFixture(root + "/b", Fixture(DType::kF32, 1)).ok());
  ASSERT_EQ(std::rename((root + "/b/adapter_model.safetensors").c_str(), (root + "/b/adapter_model.bin").c_str()), 0);
  adapter = ReadPeftAdapter(root + "/b");
  EXPECT_NE(adapter.status().message().find("adapter_model.bin (a pickle) is not read"), std::string::npos);
  EXPECT_EQ(ReadPeftAdapter(root + "/none").status().code(), absl::StatusCode::kNotFound);
}

// An export is staged beside its destination and moved into place whole:
// into a new folder, an existing empty one, or one holding other files (the
// same bytes each time); nothing is left beside it, and the staging folder
// of an export whose process died is swept by the next export, while a
// live process's is kept.
TEST(PeftExportTest, MovesAStagedAdapterIntoPlaceAndSweepsDeadStagings) {
  const std::string root = NewTempDir("export_staged");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(root + "/lib", "l", "b");
  ASSERT_TRUE(library.ok());
  ASSERT_TRUE(library->AddWeights([] {
    ExpertRecord r;
    r.name = "l";
    return r;
  }(), testing::SmallLora(3)).ok());
  ASSERT_EQ(mkdir((root + "/out").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/out/empty").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/out/busy").c_str(), 0755), 0);
  std::ofstream(root + "/out/busy/README") << "mine";
  // A dead export's staging folder (pid 2^22 + 1 is above Linux's pid_max)
  // and a live one's (this process's parent).
  const std::string dead = root + "/out/.x.tmp-4194305-export";
  const std::string live = root + "/out/.y.tmp-" + std::to_string(getppid()) + "-export";
  ASSERT_EQ(mkdir(dead.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(live.c_str(), 0755), 0);

  ASSERT_TRUE(ExportPeftAdapter(*library, "l", root + "/out/new/").ok());
  ASSERT_TRUE(ExportPeftAdapter(*library, "l", root + "/out/empty").ok());
  ASSERT_TRUE(ExportPeftAdapter(*library, "l", root + "/out/busy").ok());
  const std::string weights = Slurp(root + "/out/new/adapter_model.safetensors");
  const std::string config = Slurp(root + "/out/new/adapter_config.json");
  EXPECT_FALSE(weights.empty());
  for (const char* dir : {"empty", "busy"}) {
    EXPECT_EQ(Slurp(root + "/out/" + dir + "/adapter_model.safetensors"), weights) << dir;
    EXPECT_EQ(Slurp(root + "/out/" + dir + "/adapter_config.json"), config) << dir;
  }
  EXPECT_EQ(Slurp(root + "/out/busy/README"), "mine");
  struct stat info;
  EXPECT_NE(stat(dead.c_str(), &info), 0) << "a dead export's staging folder is swept";
  EXPECT_EQ(stat(live.c_str(), &info), 0) << "a running export's staging folder is kept";
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root + "/out")) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 4);  // new, empty, busy and the live staging folder
}

TEST(PeftExportTest, RefusesNonLoraAndExistingAdapters) {
  const std::string root = NewTempDir("export");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(root + "/lib", "l", "b");
  ASSERT_TRUE(library.ok());
  ExpertWeights delta;
  delta.type = AdapterType::kDelta;
  delta.delta["other.q"] = Tensor::Zeros({2, 2});
  ExpertRecord record;
  record.name = "d";
  record.type = AdapterType::kDelta;
  ASSERT_TRUE(library->AddWeights(record, delta).ok());
  absl::Status status = ExportPeftAdapter(*library, "d", root + "/out");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("only LoRA experts export to PEFT"), std::string::npos);

  ASSERT_TRUE(library->AddWeights([] {
    ExpertRecord r;
    r.name = "l";
    return r;
  }(), testing::SmallLora(3)).ok());
  ASSERT_TRUE(ExportPeftAdapter(*library, "l", root + "/out").ok());
  const std::string before = Slurp(root + "/out/adapter_model.safetensors");
  EXPECT_EQ(ExportPeftAdapter(*library, "l", root + "/out").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Slurp(root + "/out/adapter_model.safetensors"), before);
  // A libra-made expert lists its exact modules, and ranks that differ.
  nlohmann::json config = nlohmann::json::parse(Slurp(root + "/out/adapter_config.json"));
  EXPECT_EQ(config["target_modules"], nlohmann::json({"m.q", "m.v"}));
  EXPECT_EQ(config["r"], 2);
  EXPECT_EQ(config["rank_pattern"], nlohmann::json({{"v", 3}}));
}

// FirstMatchingPattern against Python's re with PEFT's rule written plainly.
TEST(PeftPatternTest, MatchesPythonRe) {
  const std::vector<std::string> keys = {"layers.1.self_attn.v_proj", "q_proj", "mlp.*_proj", "model.layers.0.k"};
  const std::vector<std::string> modules = {
      "model.layers.1.self_attn.v_proj", "model.layers.11.self_attn.v_proj", "model.layers.0.self_attn.q_proj",
      "model.layers.0.mlp.up_proj",      "model.layers.0.k",                 "model.layers.0.kk",
      "xq_proj",                         "q_proj"};
  nlohmann::json json_keys = keys;
  nlohmann::json json_modules = modules;
  for (PeftPatternStyle style : {PeftPatternStyle::kCurrent, PeftPatternStyle::kLegacy}) {
    const std::string rule = style == PeftPatternStyle::kCurrent ? "rf'(.*\\.)?({k})$'" : "rf'.*\\.{k}$'";
    const std::string script = "import json,re\nkeys=json.loads('" + json_keys.dump() + "')\nmods=json.loads('" +
                               json_modules.dump() + "')\nfor m in mods:\n  print(next((i for i,k in enumerate(keys) "
                               "if re.match(" + rule + ", m)), -1))\n";
    std::ofstream(std::string(getenv("TEST_TMPDIR")) + "/p.py") << script;
    const std::string python = RunCommand("/usr/bin/python3 " + std::string(getenv("TEST_TMPDIR")) + "/p.py");
    std::string ours;
    for (const std::string& module : modules) {
      absl::StatusOr<int> index = FirstMatchingPattern(keys, module, style);
      ASSERT_TRUE(index.ok());
      ours += std::to_string(*index) + "\n";
    }
    EXPECT_EQ(ours, python);
  }
}

}  // namespace
}  // namespace libra
