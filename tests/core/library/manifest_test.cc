#include <cmath>
#include <limits>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/core/library/expert_name.h"
#include "src/core/library/manifest.h"
#include "src/core/library/manifest_io.h"
#include "src/core/library/manifest_json.h"
#include "src/proto/library.pb.h"

namespace libra {
namespace {

Manifest FullManifest() {
  Manifest manifest;
  manifest.name = "flan";
  manifest.base_model = "phi-2";
  manifest.created_unix_ms = 1795879217991;
  manifest.module_shapes["model.layers.0.q"] = ModuleShape{2560, 2560};
  manifest.module_shapes["model.layers.0.fc1"] = ModuleShape{10240, 2560};
  ExpertRecord lora;
  lora.name = "cola";
  lora.type = AdapterType::kLora;
  lora.lora.rank = 4;
  lora.lora.alpha = 16;
  lora.lora.use_rslora = true;
  lora.lora.module_rank["model.layers.0.fc1"] = 8;
  lora.lora.module_alpha["model.layers.0.fc1"] = 32.5;
  lora.target_modules = {"q", "fc1"};
  lora.tasks = {"cola", "sst2"};
  lora.training_config = {{"lr", "1e-4"}, {"epochs", "1"}};
  lora.metrics = {{"accuracy", 0.8125}, {"loss", -1.5}};
  lora.file_name = "cola.safetensors";
  lora.sha256 = std::string(64, 'a');
  lora.file_size = 123456789012;
  lora.dtype = "BF16";
  lora.num_parameters = 98765;
  lora.created_unix_ms = 1795879217000;
  lora.auxiliary_files["arrow"] = AuxiliaryFile{"aux/arrow/cola.safetensors", std::string(64, 'b')};
  manifest.experts.push_back(lora);
  ExpertRecord merged;
  merged.name = "merged";
  merged.type = AdapterType::kSparse;
  merged.sparse.keep_ratio = 0.05;
  merged.file_name = "merged.safetensors";
  merged.merge = MergeInfo{"ties", {{"density", "0.3"}}, {"cola", "sst2"}, {0.25, 0.75}};
  manifest.experts.push_back(merged);
  return manifest;
}

void ExpectEqual(const Manifest& a, const Manifest& b) {
  // JSON is a faithful, comparable rendering of every field.
  EXPECT_EQ(ManifestToJson(a).dump(), ManifestToJson(b).dump());
  ASSERT_EQ(a.experts.size(), b.experts.size());
  EXPECT_EQ(a.experts[0].lora.module_alpha, b.experts[0].lora.module_alpha);
  EXPECT_EQ(a.experts[1].merge->source_weights, b.experts[1].merge->source_weights);
}

TEST(ManifestTest, ProtobufRoundTrip) {
  const Manifest manifest = FullManifest();
  const std::string bytes = SerializeManifest(manifest);
  absl::StatusOr<Manifest> parsed = ParseManifest(bytes, "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectEqual(manifest, *parsed);
  EXPECT_EQ(SerializeManifest(*parsed), bytes);  // deterministic
}

TEST(ManifestTest, JsonRoundTrip) {
  const Manifest manifest = FullManifest();
  absl::StatusOr<Manifest> parsed = ManifestFromJson(ManifestToJson(manifest), "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectEqual(manifest, *parsed);
  nlohmann::json json = ManifestToJson(manifest);
  EXPECT_EQ(json["experts"][0]["adapter_type"], "lora");
  EXPECT_EQ(json["experts"][0]["file_size"], 123456789012);
}

// protobuf's own JSON printer (proto3 mapping: int64 as strings, omitted
// defaults) is an independent writer that ManifestFromJson must read.
TEST(ManifestTest, ReadsProtobufJsonMapping) {
  const Manifest manifest = FullManifest();
  proto::Library library;
  const std::string bytes = SerializeManifest(manifest);
  ASSERT_TRUE(library.ParseFromString(bytes));
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(library, &text, options).ok());
  ASSERT_NE(text.find("\"file_size\":\"123456789012\""), std::string::npos) << text;
  absl::StatusOr<Manifest> parsed = ManifestFromJson(nlohmann::json::parse(text), "protobuf json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectEqual(manifest, *parsed);

  // And protobuf's JSON parser reads what ManifestToJson writes.
  proto::Library from_ours;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ManifestToJson(manifest).dump(), &from_ours).ok());
  EXPECT_EQ(from_ours.experts(0).lora().module_rank().at("model.layers.0.fc1"), 8);
  EXPECT_EQ(from_ours.experts(1).merge().source_experts(1), "sst2");
}

TEST(ManifestTest, NonFiniteMetricsSurviveJson) {
  Manifest manifest = FullManifest();
  manifest.experts[0].metrics["nan"] = std::numeric_limits<double>::quiet_NaN();
  manifest.experts[0].metrics["inf"] = std::numeric_limits<double>::infinity();
  absl::StatusOr<Manifest> parsed = ManifestFromJson(nlohmann::json::parse(ManifestToJson(manifest).dump()), "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(std::isnan(parsed->experts[0].metrics.at("nan")));
  EXPECT_TRUE(std::isinf(parsed->experts[0].metrics.at("inf")));
}

TEST(ManifestTest, RejectsBadInput) {
  EXPECT_EQ(ParseManifest("\xff\xff\xff", "x.pb").status().code(), absl::StatusCode::kDataLoss);
  Manifest manifest = FullManifest();
  manifest.experts[1].name = "cola";
  absl::StatusOr<Manifest> parsed = ParseManifest(SerializeManifest(manifest), "x.pb");
  EXPECT_NE(parsed.status().message().find("listed twice"), std::string::npos) << parsed.status();
  manifest = FullManifest();
  manifest.format_version = kManifestFormatVersion + 1;
  EXPECT_EQ(ParseManifest(SerializeManifest(manifest), "x.pb").status().code(),
            absl::StatusCode::kFailedPrecondition);
  manifest = FullManifest();
  manifest.experts[0].auxiliary_files["arrow"].file_name = "/etc/passwd";
  EXPECT_NE(ParseManifest(SerializeManifest(manifest), "x.pb").status().message().find("is absolute"),
            std::string::npos);
  nlohmann::json json = ManifestToJson(FullManifest());
  json["experts"][0]["adapter_type"] = "dora";
  absl::StatusOr<Manifest> from_json = ManifestFromJson(json, "ls.json");
  EXPECT_NE(from_json.status().message().find("unknown adapter type \"dora\""), std::string::npos);
  EXPECT_NE(from_json.status().message().find("$.experts[0].adapter_type"), std::string::npos);
  json = ManifestToJson(FullManifest());
  json["experts"][0]["file_size"] = "lots";
  EXPECT_NE(ManifestFromJson(json, "ls.json").status().message().find("expected an integer"), std::string::npos);
}

TEST(ExpertNameTest, AcceptsAndRejects) {
  for (const char* good : {"cola", "flan_v2.cot-3", "A b", "x"}) {
    EXPECT_TRUE(ValidateExpertName(good).ok()) << good;
  }
  for (const std::string& bad : std::vector<std::string>{"", "..", "a..b", "a/b", "a\\b", ".x", "-x", " x", "x ",
                                                         "caf\xc3\xa9", "a\nb", std::string(129, 'a')}) {
    const absl::Status status = ValidateExpertName(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("invalid expert name"), std::string::npos);
  }
  EXPECT_TRUE(ValidateExpertName(std::string(128, 'a')).ok());
  EXPECT_TRUE(ValidateRelativeFileName("aux/arrow/x.safetensors").ok());
  for (const char* bad : {"", "/abs", "a/../b", "..", "a//b", "a\\b", "./a"}) {
    EXPECT_FALSE(ValidateRelativeFileName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace libra
