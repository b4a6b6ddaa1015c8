// `libra train --type sparse` end to end: two tiny sparse experts trained by
// the real binary go into a library, are merged with sparse_overlap, and the
// merge equals the overlap average computed here from the two files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/safetensors.h"
#include "tests/cli/run_command.h"

namespace libra {
namespace {

CommandResult Libra(const std::string& args) {
  return RunCommand("src/cli/libra " + args + " --threads=2 2>&1");
}

// module -> (flat index -> value) of every sparse module in a file.
std::map<std::string, std::map<int64_t, float>> SparseModules(const std::string& path) {
  std::map<std::string, std::map<int64_t, float>> out;
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return out;
  for (const TensorInfo& info : file->tensors()) {
    if (!absl::EndsWith(info.name, ".sparse.indices")) continue;
    const std::string module = info.name.substr(0, info.name.size() - std::string(".sparse.indices").size());
    absl::StatusOr<Int64Tensor> indices = file->ReadInt64(info.name);
    absl::StatusOr<Tensor> values = file->ReadFloat(module + ".sparse.values");
    EXPECT_TRUE(indices.ok() && values.ok()) << module;
    if (!indices.ok() || !values.ok()) continue;
    for (size_t k = 0; k < indices->values.size(); ++k) out[module][indices->values[k]] = values->data()[k];
  }
  return out;
}

TEST(SparseTrainCommandTest, TrainsSparseExpertsIntoALibraryAndMergesThemWithSparseOverlap) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/sparse_cli";
  std::filesystem::create_directories(dir);
  ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir +
                         "/base llama 1 --vocab 260 > /dev/null").c_str()),
            0);
  {
    std::ofstream data(dir + "/train.jsonl");
    const char* words[] = {"ab", "ba", "abc", "cab", "bca", "aab", "bb", "ca"};
    for (int i = 0; i < 32; ++i) {
      const std::string w = words[i % 8];
      const std::string target = i % 2 ? std::string(w.rbegin(), w.rend()) : w + w;
      data << "{\"source\": \"T " << w << "\", \"target\": \"" << target << "\", \"task_name\": \""
           << (i % 2 ? "rev" : "dup") << "\"}\n";
    }
  }
  const std::string base = "--base " + dir + "/base --data " + dir + "/train.jsonl";
  CommandResult a = Libra("train " + base + " --task rev --type sparse --keep_ratio 0.05 --mask_scope global "
                          "--mask_update_every 2 --epochs 2 --batch_size 4 --lr 0.01 --seed 1 --out " + dir + "/a.safetensors");
  ASSERT_EQ(a.code, 0) << a.output;
  CommandResult b = Libra("train " + base + " --task dup --type sparse --keep_ratio 0.05 --mask_block 16 "
                          "--steps 3 --batch_size 4 --lr 0.01 --seed 2 --out " + dir + "/b.safetensors");
  ASSERT_EQ(b.code, 0) << b.output;
  const auto a_modules = SparseModules(dir + "/a.safetensors");
  const auto b_modules = SparseModules(dir + "/b.safetensors");
  ASSERT_EQ(a_modules.size(), 4u);  // q_proj and v_proj of 2 layers
  ASSERT_EQ(b_modules.size(), 4u);

  CommandResult eval = Libra("eval " + base + " --task rev --limit 2 --max_new_tokens 2 --expert_file " + dir + "/a.safetensors");
  EXPECT_EQ(eval.code, 0) << eval.output;

  const std::string lib = dir + "/lib";
  ASSERT_EQ(Libra("library create " + lib + " --base tiny").code, 0);
  for (const char* name : {"a", "b"}) {
    CommandResult add = Libra(absl::StrCat("library add ", lib, " --name ", name, " --tensors ", dir, "/", name,
                                           ".safetensors --type sparse --keep_ratio 0.05"));
    ASSERT_EQ(add.code, 0) << add.output;
  }
  CommandResult merge = Libra("merge " + lib + " --experts a,b --method sparse_overlap --out merged");
  ASSERT_EQ(merge.code, 0) << merge.output;
  const auto merged = SparseModules(lib + "/merged.safetensors");
  ASSERT_EQ(merged.size(), 4u);
  bool some_overlap = false;
  for (const auto& [module, a_entries] : a_modules) {
    std::map<int64_t, std::pair<double, int>> expected;  // sum, count
    for (const auto& source : {a_entries, b_modules.at(module)}) {
      for (const auto& [index, value] : source) {
        expected[index].first += value;
        expected[index].second += 1;
      }
    }
    ASSERT_EQ(merged.at(module).size(), expected.size()) << module;
    for (const auto& [index, sum_count] : expected) {
      some_overlap |= sum_count.second == 2;
      ASSERT_TRUE(merged.at(module).count(index)) << module << " " << index;
      EXPECT_NEAR(merged.at(module).at(index), sum_count.first / sum_count.second, 1e-6) << module;
    }
  }
  EXPECT_TRUE(some_overlap) << "the two masks never overlap: the test would not exercise the division";
}

TEST(SparseTrainCommandTest, BadSparseFlagsAreUsageErrors) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/sparse_cli_bad";
  std::filesystem::create_directories(dir);
  ASSERT_EQ(std::system(("/usr/bin/python3 tests/nn/reference_forward.py " + dir +
                         "/base llama 1 --vocab 260 > /dev/null").c_str()),
            0);
  std::ofstream(dir + "/train.jsonl") << "{\"source\": \"a\", \"target\": \"b\"}\n";
  const std::string base = "train --base " + dir + "/base --data " + dir + "/train.jsonl --type sparse --out " +
                           dir + "/x.safetensors";
  for (const auto& [flags, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"--mask_block 8", "block size must be 1 or 16, got 8"},
           {"--mask_scope model", "unknown mask scope \"model\""},
           {"--keep_ratio 1.5", "keep_ratio must be in (0, 1], got 1.5"},
           {"--resume", "--type sparse does not support --resume"}}) {
    CommandResult run = Libra(base + " " + flags);
    EXPECT_EQ(run.code, 2) << flags << ": " << run.output;
    EXPECT_TRUE(absl::StrContains(run.output, message)) << flags << ": " << run.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.safetensors"));
}

}  // namespace
}  // namespace libra
