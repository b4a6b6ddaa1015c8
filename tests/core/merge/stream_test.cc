#include "src/core/merge/stream.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/core/io/atomic_file.h"
#include "src/core/io/safetensors.h"
#include "src/core/merge/expert_file.h"
#include "src/core/merge/registry.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::AllClose;
using testing::NaiveProduct;
using testing::RandomTensor;

const MethodSpec* Method(const char* name) { return *FindMethod(name); }

class StreamMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
  }

  // Expert i: LoRA modules "h.0.q" [12 x 10] and "h.1.q" [12 x 10] of rank
  // 2 + i, alpha 4, plus a bias "h.0.bias" [12].
  std::string WriteLoraExpert(int i, int64_t in = 10) {
    SafetensorsWriter writer;
    for (const char* module : {"h.0.q", "h.1.q"}) {
      const uint32_t seed = 100 * i + (module[2] - '0');
      EXPECT_TRUE(writer.Add(std::string(module) + ".lora_A.weight", RandomTensor({2 + i, in}, seed)).ok());
      EXPECT_TRUE(writer.Add(std::string(module) + ".lora_B.weight", RandomTensor({12, 2 + i}, seed + 50)).ok());
    }
    EXPECT_TRUE(writer.Add("h.0.bias", RandomTensor({12}, 900 + i)).ok());
    writer.SetMetadata("lora_alpha", "4");
    const std::string path = dir_ + "/expert" + std::to_string(i) + ".safetensors";
    EXPECT_TRUE(writer.WriteAtomically(path).ok());
    return path;
  }

  StreamMergeRequest Request(const char* method, MergeArguments args, int n) {
    StreamMergeRequest request;
    request.method = Method(method);
    absl::StatusOr<MergeParams> params = BindParams(*request.method, args, n);
    EXPECT_TRUE(params.ok()) << params.status();
    request.params = *params;
    request.params.threads = 2;
    for (int i = 0; i < n; ++i) {
      request.experts.push_back({"e" + std::to_string(i), WriteLoraExpert(i)});
    }
    request.out_path = dir_ + "/out.safetensors";
    return request;
  }

  // The dense delta of expert i's module, read back from its file.
  std::vector<float> ExpertDelta(const std::string& path, const std::string& module) {
    SafetensorsFile file = *SafetensorsFile::Open(path);
    Tensor a = *file.ReadFloat(module + ".lora_A.weight");
    Tensor b = *file.ReadFloat(module + ".lora_B.weight");
    return NaiveProduct(b, a, 4.0f / a.dim(0));
  }

  std::string dir_;
};

TEST_F(StreamMergeTest, LinearDeltaMatchesDirectFormulaPerModule) {
  MergeArguments args;
  args.per_expert["weight"] = {0.5, 1.0, -2.0};
  StreamMergeRequest request = Request("linear", args, 3);
  absl::StatusOr<StreamMergeReport> report = MergeExpertFiles(request);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->modules, 3);
  SafetensorsFile out = *SafetensorsFile::Open(request.out_path);
  for (const char* module : {"h.0.q", "h.1.q"}) {
    std::vector<float> expected(120, 0.0f);
    for (int i = 0; i < 3; ++i) {
      const std::vector<float> d = ExpertDelta(request.experts[i].path, module);
      for (int j = 0; j < 120; ++j) expected[j] += static_cast<float>(args.per_expert["weight"][i]) * d[j];
    }
    absl::StatusOr<Tensor> merged = out.ReadFloat(std::string(module) + ".delta.weight");
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_TRUE(AllClose(merged->values(), expected, 1e-5f, 1e-4f)) << module;
  }
  // The bias keeps its bare name and is merged like any dense delta.
  Tensor bias = *out.ReadFloat("h.0.bias");
  std::vector<float> expected_bias(12, 0.0f);
  for (int i = 0; i < 3; ++i) {
    Tensor b = *SafetensorsFile::Open(request.experts[i].path)->ReadFloat("h.0.bias");
    for (int j = 0; j < 12; ++j) expected_bias[j] += static_cast<float>(args.per_expert["weight"][i]) * b.at(j);
  }
  EXPECT_TRUE(AllClose(bias.values(), expected_bias));
  EXPECT_EQ(out.metadata().at("merge_method"), "linear");
  EXPECT_EQ(out.metadata().at("merge_sources"), "e0,e1,e2");
  EXPECT_TRUE(absl::StrContains(out.metadata().at("merge_parameters"), "\"weight\":[0.5,1.0,-2.0]"))
      << out.metadata().at("merge_parameters");
}

TEST_F(StreamMergeTest, TiesStreamedEqualsTiesOnDenseDeltas) {
  MergeArguments args;
  args.scalars["density"] = 0.4;
  StreamMergeRequest request = Request("ties", args, 3);
  ASSERT_TRUE(MergeExpertFiles(request).ok());
  SafetensorsFile out = *SafetensorsFile::Open(request.out_path);
  std::vector<Tensor> dense;
  for (int i = 0; i < 3; ++i) dense.emplace_back(Shape{12, 10}, ExpertDelta(request.experts[i].path, "h.1.q"));
  absl::StatusOr<Tensor> expected = Merge(*request.method, nullptr, dense, request.params);
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(AllClose(out.ReadFloat("h.1.q.delta.weight")->values(), expected->values(), 1e-5f, 1e-4f));
}

TEST_F(StreamMergeTest, SvdOutputReloadsAsLoraAndReproducesDeltaAtFullRank) {
  StreamMergeRequest delta_request = Request("uniform", {}, 3);
  ASSERT_TRUE(MergeExpertFiles(delta_request).ok());
  StreamMergeRequest svd_request = delta_request;
  svd_request.options = {LoraMode::kSvd, 9};  // total rank 2 + 3 + 4
  svd_request.out_path = dir_ + "/svd.safetensors";
  absl::StatusOr<StreamMergeReport> report = MergeExpertFiles(svd_request);
  ASSERT_TRUE(report.ok()) << report.status();
  absl::StatusOr<ExpertFile> reloaded = ExpertFile::Open(svd_request.out_path);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  SafetensorsFile delta_out = *SafetensorsFile::Open(delta_request.out_path);
  for (const char* module : {"h.0.q", "h.1.q"}) {
    const ModuleEntry* entry = reloaded->Find(module);
    ASSERT_NE(entry, nullptr);
    ASSERT_EQ(entry->kind, ModuleDelta::Kind::kLora);
    EXPECT_EQ(entry->rank, 9);
    ModuleDelta lora = *reloaded->Load(*entry);
    EXPECT_EQ(lora.lora.scale, 1.0f);
    EXPECT_TRUE(AllClose(NaiveProduct(lora.lora.b, lora.lora.a, lora.lora.scale),
                         delta_out.ReadFloat(std::string(module) + ".delta.weight")->values(), 1e-4f, 1e-3f));
  }
}

TEST_F(StreamMergeTest, AbModeWarnsAndNeedsEqualRanks) {
  StreamMergeRequest request = Request("uniform", {}, 2);
  request.options = {LoraMode::kAb, 0};
  absl::StatusOr<StreamMergeReport> report = MergeExpertFiles(request);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "mode ab needs equal ranks"));
  EXPECT_FALSE(std::filesystem::exists(request.out_path));

  // Equal ranks: expert 1 replaced by a copy of expert 0.
  std::filesystem::copy_file(request.experts[0].path, dir_ + "/same_rank.safetensors");
  request.experts[1].path = dir_ + "/same_rank.safetensors";
  report = MergeExpertFiles(request);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report->warnings[0], "not the mean of the experts' deltas"));
}

TEST_F(StreamMergeTest, MismatchesFailBeforeWritingAndKeepExistingOutput) {
  StreamMergeRequest request = Request("linear", {}, 2);
  ASSERT_TRUE(WriteFileAtomically(request.out_path, "previous").ok());
  // Expert 1 with a different input width.
  SafetensorsWriter wide;
  ASSERT_TRUE(wide.Add("h.0.q.lora_A.weight", RandomTensor({2, 11}, 1)).ok());
  ASSERT_TRUE(wide.Add("h.0.q.lora_B.weight", RandomTensor({12, 2}, 2)).ok());
  ASSERT_TRUE(wide.Add("h.1.q.lora_A.weight", RandomTensor({2, 10}, 1)).ok());
  ASSERT_TRUE(wide.Add("h.1.q.lora_B.weight", RandomTensor({12, 2}, 2)).ok());
  ASSERT_TRUE(wide.Add("h.0.bias", RandomTensor({12}, 2)).ok());
  ASSERT_TRUE(wide.WriteAtomically(dir_ + "/wide.safetensors").ok());
  request.experts[1].path = dir_ + "/wide.safetensors";
  absl::StatusOr<StreamMergeReport> report = MergeExpertFiles(request);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(),
                                "module \"h.0.q\": expert \"e1\" (" + dir_ +
                                    "/wide.safetensors) has delta [12, 11], expected [12, 10]"))
      << report.status();

  // Expert 1 lacking a module.
  SafetensorsWriter partial;
  ASSERT_TRUE(partial.Add("h.0.q.lora_A.weight", RandomTensor({2, 10}, 1)).ok());
  ASSERT_TRUE(partial.Add("h.0.q.lora_B.weight", RandomTensor({12, 2}, 2)).ok());
  ASSERT_TRUE(partial.WriteAtomically(dir_ + "/partial.safetensors").ok());
  request.experts[1].path = dir_ + "/partial.safetensors";
  report = MergeExpertFiles(request);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "lacks module \"h.0.bias\""))
      << report.status();
  EXPECT_EQ(*ReadFile(request.out_path), "previous");
  std::vector<std::string> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    leftovers.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(leftovers.size(), 5u) << "temporary files left behind";
}

TEST_F(StreamMergeTest, SparseOverlapStaysSparseOnDisk) {
  auto write_sparse = [&](const std::string& name, std::vector<int64_t> indices, std::vector<float> values) {
    SafetensorsWriter writer;
    const int64_t nnz = static_cast<int64_t>(values.size());
    EXPECT_TRUE(writer.Add("m.sparse.values", Tensor({nnz}, values)).ok());
    EXPECT_TRUE(writer.AddInt64("m.sparse.indices", {{nnz}, indices}).ok());
    EXPECT_TRUE(writer.AddInt64("m.sparse.shape", {{2}, {4, 5}}).ok());
    const std::string path = dir_ + "/" + name + ".safetensors";
    EXPECT_TRUE(writer.WriteAtomically(path).ok());
    return path;
  };
  StreamMergeRequest request;
  request.method = Method("sparse_overlap");
  request.params = *BindParams(*request.method, {}, 2);
  request.experts = {{"a", write_sparse("a", {0, 7, 19}, {1.0f, 2.0f, 3.0f})},
                     {"b", write_sparse("b", {7, 3}, {4.0f, -1.0f})}};
  request.out_path = dir_ + "/out.safetensors";
  ASSERT_TRUE(MergeExpertFiles(request).ok());
  SafetensorsFile out = *SafetensorsFile::Open(request.out_path);
  EXPECT_EQ(out.ReadInt64("m.sparse.indices")->values, (std::vector<int64_t>{0, 3, 7, 19}));
  EXPECT_EQ(out.ReadFloat("m.sparse.values")->values(), (std::vector<float>{1.0f, -1.0f, 3.0f, 3.0f}));
  EXPECT_EQ(out.ReadInt64("m.sparse.shape")->values, (std::vector<int64_t>{4, 5}));
}

TEST_F(StreamMergeTest, ExpertFileRejectsHalfALora) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("h.0.q.lora_A.weight", RandomTensor({2, 10}, 1)).ok());
  ASSERT_TRUE(writer.WriteAtomically(dir_ + "/half.safetensors").ok());
  absl::StatusOr<ExpertFile> file = ExpertFile::Open(dir_ + "/half.safetensors");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(file.status().message(), "module \"h.0.q\""));
}

}  // namespace
}  // namespace libra::merge
