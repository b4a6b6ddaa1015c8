// libra's streaming merges against a second implementation: Python torch
// (tests/core/merge/torch_reference.py, run with Debian's /usr/bin/python3),
// on the same LoRA expert files.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/core/io/safetensors.h"
#include "src/core/merge/registry.h"
#include "src/core/merge/stream.h"
#include "tests/core/merge/test_util.h"

namespace libra::merge {
namespace {

using testing::RandomTensor;

std::string RunPython(const std::string& args) {
  const std::string command =
      "/usr/bin/python3 tests/core/merge/torch_reference.py " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[65536];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  pclose(pipe);
  return output;
}

TEST(TorchCrosscheckTest, MethodsMatchTorchOnLoraExperts) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::vector<ExpertSource> experts;
  for (int e = 0; e < 3; ++e) {
    SafetensorsWriter writer;
    for (int m = 0; m < 2; ++m) {
      const std::string module = "layers." + std::to_string(m) + ".q_proj";
      ASSERT_TRUE(writer.Add(module + ".lora_A.weight", RandomTensor({3, 40}, 10 * e + m)).ok());
      ASSERT_TRUE(writer.Add(module + ".lora_B.weight", RandomTensor({30, 3}, 100 + 10 * e + m)).ok());
    }
    writer.SetMetadata("lora_alpha", "6");
    experts.push_back({"e" + std::to_string(e), dir + "/e" + std::to_string(e) + ".safetensors"});
    ASSERT_TRUE(writer.WriteAtomically(experts.back().path).ok());
  }
  const std::vector<double> weights = {1.0, 0.5, 2.0};
  std::vector<std::string> paths;
  for (const ExpertSource& expert : experts) paths.push_back(expert.path);
  for (const char* name : {"task_arithmetic", "magnitude_prune", "ties"}) {
    SCOPED_TRACE(name);
    StreamMergeRequest request;
    request.method = *FindMethod(name);
    MergeArguments args;
    args.per_expert["weight"] = weights;
    args.scalars["lambda"] = 0.7;
    if (std::string(name) != "task_arithmetic") args.scalars["density"] = 0.25;
    request.params = *BindParams(*request.method, args, 3);
    request.params.threads = 2;
    request.experts = experts;
    request.out_path = dir + "/" + name + ".safetensors";
    ASSERT_TRUE(MergeExpertFiles(request).ok());

    const std::string output = RunPython(absl::StrCat(name, " 0.25 0.7 1,0.5,2 ", absl::StrJoin(paths, " ")));
    nlohmann::json reference = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(reference.is_discarded()) << output;
    ASSERT_EQ(reference.size(), 2u) << output;
    SafetensorsFile merged = *SafetensorsFile::Open(request.out_path);
    for (const auto& [module, values] : reference.items()) {
      const std::vector<float> ours = merged.ReadFloat(module + ".delta.weight")->values();
      ASSERT_EQ(ours.size(), values.size()) << module;
      int differing = 0;
      for (size_t j = 0; j < ours.size(); ++j) {
        const double theirs = values[j].get<double>();
        differing += std::fabs(ours[j] - theirs) > 1e-4 + 1e-4 * std::fabs(theirs);
      }
      EXPECT_EQ(differing, 0) << module;
    }
  }
}

}  // namespace
}  // namespace libra::merge
